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

from medviz.errors import BundleError, SchemaError, columns_hint

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
        # Never list the file's own column names: without a header line they are its first patient row.
        raise SchemaError(
            f"missing required column(s): {', '.join(missing)}. The model needs: {', '.join(names)}; "
            + columns_hint(cols, missing)
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


def _join(parts: np.ndarray, mask: np.ndarray, make) -> np.ndarray:
    """Append ``make(idx)`` (strings for the rows ``idx``) to ``parts`` where ``mask``, with "; " between.

    Messages are only built for the flagged rows, so a clean million-row file costs nothing here.
    """
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return parts
    add = make(idx) if callable(make) else make
    add = np.full(idx.size, add, dtype=object) if isinstance(add, str) else np.asarray(add, dtype=object)
    cur = parts[idx]
    parts[idx] = np.where(cur == "", add, cur + "; " + add)
    return parts


def _quote(text: str, limit: int = 30) -> str:
    return "'" + (text[:limit] + "…" if len(text) > limit else text) + "'"


def _has_whitespace(arr) -> bool:
    """Cheap memchr scan of an Arrow string array's data buffer (trimming a clean column costs more)."""
    chunks = arr.chunks if hasattr(arr, "chunks") else [arr]
    for chunk in chunks:
        bufs = chunk.buffers()
        if len(bufs) >= 3 and bufs[2] is not None:
            data = memoryview(bufs[2]).tobytes()
            if any(c in data for c in (b" ", b"\t", b"\r", b"\n", b"\xc2\xa0")):
                return True
    return False


_PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def _parse_column(col: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw text as object array, blank mask, float64 values with NaN where blank or not a number).

    Hand-written fast path: pyarrow's string->double cast runs in C++ over the whole column (about
    30x faster than ``pd.to_numeric`` on pandas' Arrow-backed strings); if any cell is not a plain
    number the column falls back to ``pd.to_numeric(errors="coerce")``, which says which cells failed.
    """
    if pd.api.types.is_numeric_dtype(col):
        arr = col.to_numpy(dtype="float64", na_value=np.nan)
        return col.astype(str).to_numpy(dtype=object), np.isnan(arr), arr
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pa_arr = pa.array(col.array, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        pa_arr = pa.array(col.astype(str).to_numpy(dtype=object), type=pa.string())
    trimmed = pc.fill_null(pa_arr, "")
    if _has_whitespace(trimmed):
        trimmed = pc.utf8_trim_whitespace(trimmed)
    blank_pa = pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(MISSING_TOKENS))
    blank = blank_pa.to_numpy(zero_copy_only=False)
    candidates = pc.if_else(blank_pa, pa.scalar(None, pa.string()), trimmed)
    try:
        arr = pc.cast(candidates, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        # Some cell is not a plain decimal number: cast the ones that are (C++), and let
        # pd.to_numeric judge only the others ("inf", "1,5", "high"...), as it did for all cells.
        plain = pc.fill_null(pc.match_substring_regex(candidates, _PLAIN_NUMBER), False)
        try:
            arr = pc.cast(pc.if_else(plain, candidates, pa.scalar(None, pa.string())), pa.float64()).to_numpy(
                zero_copy_only=False)
            odd = np.flatnonzero(~plain.to_numpy(zero_copy_only=False) & ~blank)
        except pa.ArrowInvalid:  # a form the regex admits but Arrow does not: every cell to pandas
            arr = np.full(len(candidates), np.nan)
            odd = np.flatnonzero(~blank)
        if odd.size:
            cells = pd.Series(candidates.take(pa.array(odd)).to_numpy(zero_copy_only=False), dtype=object)
            arr[odd] = pd.to_numeric(cells, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    arr = np.where(blank, np.nan, arr)
    return trimmed, blank, arr


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
        raw, blank, arr = _parse_column(frame[spec.name])

        def text(idx, raw=raw):  # the cells as the user wrote them (only for flagged rows)
            if isinstance(raw, np.ndarray):
                return [str(v) for v in raw[idx]]
            return [str(v) for v in raw.take(idx).to_pylist()]

        with np.errstate(invalid="ignore"):
            not_number = ~blank & np.isnan(arr)
            not_finite = ~blank & np.isinf(arr)
            finite = ~blank & np.isfinite(arr)
            low = finite & (arr < spec.min) if spec.min is not None else np.zeros(n, bool)
            high = finite & (arr > spec.max) if spec.max is not None else np.zeros(n, bool)
            frac = finite & (np.floor(arr) != arr) if spec.type == INTEGER else np.zeros(n, bool)
        bad = not_number | not_finite | low | high | frac
        ok_val = finite & ~bad

        values[:, j] = np.where(ok_val, arr, np.nan)
        missing[:, j] = blank
        invalid[:, j] = bad
        if spec.p01 is not None and spec.p99 is not None:
            with np.errstate(invalid="ignore"):
                extrap[:, j] = ok_val & ((arr < spec.p01) | (arr > spec.p99))

        name, unit, rng = spec.name, (f" {spec.unit}" if spec.unit else ""), spec.range_text()
        errors = _join(errors, not_number, lambda idx: [f"{name}: {_quote(t)} is not a number" for t in text(idx)])
        errors = _join(errors, not_finite, lambda idx: [f"{name}: {_quote(t)} is not a finite number" for t in text(idx)])
        errors = _join(errors, low | high,
                       lambda idx: [f"{name}: {t}{unit} is impossible (allowed {spec.limits_text()})" for t in text(idx)])
        errors = _join(errors, frac, lambda idx: [f"{name}: {t} is not a whole number (expected a count)" for t in text(idx)])
        flags = _join(flags, bad, f"{FLAG_INVALID}:{name}")
        flags = _join(flags, blank, f"{FLAG_IMPUTED}:{name}")
        warns = _join(warns, blank, f"{name}: blank, imputed by the model (training median {spec.fmt(spec.median)})")
        ex = extrap[:, j]
        flags = _join(flags, ex, f"{FLAG_EXTRAPOLATION}:{name}")
        tail = f" the training range {rng} (1st–99th percentile): extrapolation"
        warns = _join(warns, ex, lambda idx: [
            f"{name}: {t}{unit} is {'below' if below else 'above'}{tail}"
            for below, t in zip((arr[idx] < spec.p01).tolist(), text(idx))])

    n_missing = missing.sum(axis=1)
    limit = max_missing_fraction * nf
    too_many = n_missing > limit
    errors = _join(errors, too_many, lambda idx: [
        f"{n_missing[i]} of {nf} features are blank (at most {int(limit)} can be imputed)" for i in idx])
    ok = errors == ""
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
