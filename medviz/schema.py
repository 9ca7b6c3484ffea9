"""Feature specs of tabular bundles and vectorised validation of tables against them.

A tabular bundle's manifest lists its features (``manifest["inputs"]["features"]``): name, label,
description, unit, type, hard limits (impossible values are refused) and the training 1st–99th
percentile (beyond it the model extrapolates). :func:`validate_frame` checks a string-typed table
(as read by :mod:`medviz.io`) against those specs, column by column with pandas/numpy (no per-row
Python), and says per row what is wrong:

* ``error``    the row cannot be scored: non-numeric text, inf, an impossible value, a fractional
               count, or too many missing values;
* ``flags``    short machine-readable findings, ``kind:feature`` joined by ``"; "`` — kinds are
               ``imputed`` (blank -> imputed inside the model), ``extrapolation`` (outside the
               training 1st–99th percentile) and ``invalid``;
* ``warnings`` the same findings as sentences a clinician can read.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from medviz.errors import BundleError, SchemaError

FLOAT = "float"
INTEGER = "integer"
FEATURE_TYPES = (FLOAT, INTEGER)

# Cell contents read as "no value" (then imputed). Everything else must parse as a number.
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none", "missing", "?", ".", "-")

# Above this share of missing features a row is not scored (CLINICAL.md W4: abstain).
DEFAULT_MAX_MISSING_FRACTION = 0.5

FLAG_IMPUTED = "imputed"
FLAG_EXTRAPOLATION = "extrapolation"
FLAG_INVALID = "invalid"
FLAG_KINDS = (FLAG_IMPUTED, FLAG_EXTRAPOLATION, FLAG_INVALID)


@dataclass(frozen=True)
class FeatureSpec:
    """One model input as the manifest declares it."""

    name: str
    label: str = ""
    description: str = ""
    unit: str = ""
    type: str = FLOAT
    min: float | None = None  # hard limits: values outside are impossible and refused
    max: float | None = None
    p01: float | None = None  # training 1st / 99th percentile: outside is extrapolation
    p99: float | None = None
    median: float | None = None  # training median, the value the model imputes for a blank
    transform: str = "none"  # "none" or "log" (applied inside the model after imputation)

    def __post_init__(self):
        if self.type not in FEATURE_TYPES:
            raise BundleError(f"feature '{self.name}': type must be one of {FEATURE_TYPES}, got '{self.type}'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise BundleError(f"feature '{self.name}': hard limits reversed (min {self.min} > max {self.max})")
        if self.transform not in ("none", "log"):
            raise BundleError(f"feature '{self.name}': transform must be 'none' or 'log', got '{self.transform}'")

    @property
    def display(self) -> str:
        return self.label or self.name

    def fmt(self, value: float | None) -> str:
        """A value as a clinician would write it, with the unit."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "?"
        txt = f"{value:g}" if self.type == FLOAT else f"{value:.0f}"
        return f"{txt} {self.unit}".strip()

    def limits_text(self) -> str:
        lo = "-∞" if self.min is None else f"{self.min:g}"
        hi = "∞" if self.max is None else f"{self.max:g}"
        return f"{lo}–{hi} {self.unit}".strip()

    def range_text(self) -> str:
        if self.p01 is None or self.p99 is None:
            return "unknown"
        return f"{self.p01:g}–{self.p99:g} {self.unit}".strip()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureSpec":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if "name" not in d:
            raise BundleError(f"a feature spec has no 'name': {dict(d)!r}")
        if unknown:
            raise BundleError(f"feature '{d['name']}': unknown spec key(s): {', '.join(sorted(unknown))}")
        vals = dict(d)
        for k in ("min", "max", "p01", "p99", "median"):
            if vals.get(k) is not None:
                vals[k] = float(vals[k])
        return cls(**vals)


def feature_specs(manifest: Mapping[str, Any]) -> list[FeatureSpec]:
    """The feature specs of a tabular bundle's manifest, in model input order."""
    feats = (manifest.get("inputs") or {}).get("features")
    if not isinstance(feats, list) or not feats:
        raise BundleError(f"bundle '{manifest.get('name')}': manifest inputs.features must be a non-empty list")
    return [FeatureSpec.from_dict(f) for f in feats]


@dataclass(frozen=True)
class ColumnCheck:
    missing: list[str]  # required feature columns absent from the file
    unexpected: list[str]  # columns the model does not use (passed through unchanged)


def check_columns(columns: Iterable[Any], specs: Sequence[FeatureSpec]) -> ColumnCheck:
    """Match columns by name. Raises :class:`SchemaError` listing every missing required column."""
    cols = [str(c) for c in columns]
    names = [s.name for s in specs]
    missing = [n for n in names if n not in cols]
    unexpected = [c for c in cols if c not in names]
    if missing:
        # Help with the commonest mistake: same names, different case or spaces.
        near = {c.strip().lower(): c for c in cols}
        hints = [f"'{near[n.lower()]}' looks like '{n}'" for n in missing if n.lower() in near]
        raise SchemaError(
            f"missing required column(s): {', '.join(missing)}. The model needs: {', '.join(names)}; "
            f"the file has: {', '.join(cols) or '(no columns)'}" + (f" ({'; '.join(hints)}; names must match exactly)" if hints else "")
        )
    return ColumnCheck(missing=missing, unexpected=unexpected)


@dataclass(frozen=True)
class ValidatedFrame:
    """Validation of N rows against F feature specs. Arrays share the row order of the input."""

    values: np.ndarray  # (N, F) float32, NaN where missing (imputed by the model) or invalid
    ok: np.ndarray  # (N,) bool: the row can be scored
    error: np.ndarray  # (N,) object str: why not ("" when ok)
    flags: np.ndarray  # (N,) object str: "kind:feature; ..."
    warnings: np.ndarray  # (N,) object str: the findings as sentences
    missing: np.ndarray = field(repr=False)  # (N, F) bool
    invalid: np.ndarray = field(repr=False)  # (N, F) bool
    extrapolated: np.ndarray = field(repr=False)  # (N, F) bool


def _join(parts: np.ndarray, piece: pd.Series | np.ndarray | str, mask: np.ndarray) -> np.ndarray:
    """Append ``piece`` to ``parts`` where ``mask`` (with "; " between), touching only masked rows."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return parts
    add = np.asarray(piece, dtype=object)[idx] if not isinstance(piece, str) else np.full(idx.size, piece, dtype=object)
    cur = parts[idx]
    sep = np.where(cur == "", "", "; ").astype(object)
    parts[idx] = cur + sep + add
    return parts


def _quote(s: pd.Series, limit: int = 30) -> pd.Series:
    txt = s.astype(str).str.slice(0, limit)
    return "'" + txt + "'"


def validate_frame(
    frame: pd.DataFrame,
    specs: Sequence[FeatureSpec],
    *,
    max_missing_fraction: float = DEFAULT_MAX_MISSING_FRACTION,
) -> ValidatedFrame:
    """Check every feature cell of ``frame`` (string or numeric columns) against ``specs``."""
    check_columns(frame.columns, specs)
    n, nf = len(frame), len(specs)
    values = np.full((n, nf), np.nan, dtype=np.float32)
    missing = np.zeros((n, nf), dtype=bool)
    invalid = np.zeros((n, nf), dtype=bool)
    extrap = np.zeros((n, nf), dtype=bool)
    errors = np.full(n, "", dtype=object)
    flags = np.full(n, "", dtype=object)
    warns = np.full(n, "", dtype=object)

    for j, spec in enumerate(specs):
        col = frame[spec.name]
        if pd.api.types.is_numeric_dtype(col):
            num = col.astype("float64")
            raw = col.astype(str)
            blank = num.isna().to_numpy()
        else:
            raw = col.astype("string").fillna("").str.strip()
            blank = raw.str.lower().isin(MISSING_TOKENS).to_numpy()
            num = pd.to_numeric(raw.where(~blank), errors="coerce")
        arr = num.to_numpy(dtype="float64", na_value=np.nan)
        not_number = ~blank & np.isnan(arr)
        not_finite = ~blank & np.isinf(arr)
        finite = ~blank & np.isfinite(arr)
        low = finite & (arr < spec.min) if spec.min is not None else np.zeros(n, bool)
        high = finite & (arr > spec.max) if spec.max is not None else np.zeros(n, bool)
        frac = finite & (spec.type == INTEGER) & (np.floor(arr) != arr)
        bad = not_number | not_finite | low | high | frac
        ok_val = finite & ~bad

        values[:, j] = np.where(ok_val, arr, np.nan)
        missing[:, j] = blank
        invalid[:, j] = bad
        if spec.p01 is not None and spec.p99 is not None:
            extrap[:, j] = ok_val & ((arr < spec.p01) | (arr > spec.p99))

        name, unit = spec.name, (f" {spec.unit}" if spec.unit else "")
        if not_number.any():
            errors = _join(errors, name + ": " + _quote(raw) + " is not a number", not_number)
        if not_finite.any():
            errors = _join(errors, name + ": " + _quote(raw) + " is not a finite number", not_finite)
        if low.any() or high.any():
            msg = (name + ": " + raw + unit + f" is impossible (allowed {spec.limits_text()})")
            errors = _join(errors, msg, low | high)
        if frac.any():
            errors = _join(errors, name + ": " + raw + " is not a whole number (expected a count)", frac)
        if bad.any():
            flags = _join(flags, f"{FLAG_INVALID}:{name}", bad)
        if blank.any():
            imp = f"{name}: blank, imputed by the model (training median {spec.fmt(spec.median)})"
            flags = _join(flags, f"{FLAG_IMPUTED}:{name}", blank)
            warns = _join(warns, imp, blank)
        ex = extrap[:, j]
        if ex.any():
            side = np.where(arr < (spec.p01 if spec.p01 is not None else -np.inf), "below", "above")
            msg = (name + ": " + raw + unit + " is " + pd.Series(side, index=num.index)
                   + f" the training range {spec.range_text()} (1st–99th percentile): extrapolation")
            flags = _join(flags, f"{FLAG_EXTRAPOLATION}:{name}", ex)
            warns = _join(warns, msg, ex)

    n_missing = missing.sum(axis=1)
    limit = max_missing_fraction * nf
    too_many = n_missing > limit
    if too_many.any():
        msg = pd.Series(n_missing).astype(str) + f" of {nf} features are blank (at most {int(limit)} can be imputed)"
        errors = _join(errors, msg.to_numpy(dtype=object), too_many)
    ok = (errors == "")
    return ValidatedFrame(values=values, ok=ok, error=errors, flags=flags, warnings=warns,
                          missing=missing, invalid=invalid, extrapolated=extrap)


def validate_case(values: Mapping[str, Any], specs: Sequence[FeatureSpec]) -> ValidatedFrame:
    """Validate one case (feature name -> value or None) — the Case page form."""
    row = {s.name: ("" if values.get(s.name) is None else str(values.get(s.name))) for s in specs}
    return validate_frame(pd.DataFrame([row], dtype="string"), specs)


def percentile_range(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(x, [1, 99])
    return float(lo), float(hi)
