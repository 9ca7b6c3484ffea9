"""`top_reasons` text: the strongest SHAP contributions per row, formatted with the feature's unit."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from medviz.explain.common import class_index


def format_value(value: float, spec: Mapping[str, Any]) -> str:
    """A feature value with its unit, as the waterfall and ``top_reasons`` print it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "blank (imputed)"
    v = float(value)
    txt = f"{v:.0f}" if spec.get("type") == "integer" or v.is_integer() else f"{v:.3g}"
    unit = str(spec.get("unit") or "")
    return f"{txt} {unit}".strip()


# --------------------------------------------------------------------------------------------
# top_reasons (scored CSVs)
# --------------------------------------------------------------------------------------------


def _signed(v: float) -> str:
    return f"{v:+.3f}"


def top_reasons_tabular(exp, specs: Sequence[Mapping[str, Any]], k: int = 3) -> list[str]:
    """Per row: the k largest |SHAP| features as ``name = value unit (+0.123)`` joined by "; "."""
    return top_reasons_array(exp.values, exp.data, specs, k).to_pylist()


def _reference_top_reasons(values, data, specs, k: int = 3) -> list[str]:
    """The plain Python definition of ``top_reasons`` (the tests check the fast one against it)."""
    values = np.asarray(values, dtype=float)
    data = np.asarray(data, dtype=float)
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    return ["; ".join(f"{specs[j].get('name')} = {format_value(data[r, j], specs[j])} ({_signed(values[r, j])})"
                      for j in order[r]) for r in range(values.shape[0])]


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest |values| per row, ties to the lower index (= stable argsort)."""
    a = np.abs(values)
    out = np.empty((len(a), k), dtype=np.int64)
    rows = np.arange(len(a))
    for r in range(k):
        j = np.argmax(a, axis=1)  # first maximum: the lower index wins a tie
        out[:, r] = j
        a[rows, j] = -1.0
    return out


def _value_keys(v: np.ndarray, integer: bool) -> tuple[np.ndarray, np.ndarray]:
    """(key, exact) for :func:`format_value` of each value: equal keys give the same text.

    ``exact`` marks values keyed by themselves (NaN, exponent notation, rounding near a tie),
    the rest are keyed by what ``%.0f`` / ``%.3g`` keeps: the integer, or (sign, exponent, 3 digits).
    """
    key = np.array(v, dtype=np.float64, copy=True)
    exact = np.ones(len(v), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        finite = np.isfinite(v)
        whole = finite & (np.floor(v) == v) & (np.abs(v) < 2**53)
        exact[whole] = False  # an integer-valued float prints as that integer: key = itself
        key[whole & (v == 0) & np.signbit(v)] = -0.25  # -0.0 prints "-0"
        if integer:  # %.0f: half-even rounding of the exact value (np.rint is exact)
            r = np.rint(v)
            ok = finite & ~whole & (np.abs(v) < 2**52) & ~((r == 0) & np.signbit(v))
            key[ok], exact[ok] = r[ok], False
        else:  # %.3g: fixed notation for exponents -4..2, 3 significant digits
            a = np.abs(v)
            e = np.floor(np.log10(np.where(a > 0, a, 1.0)))
            scaled = a / 10.0 ** (e - 2)
            m = np.rint(scaled)
            up = m >= 1000
            e, scaled = np.where(up, e + 1, e), np.where(up, scaled / 10, scaled)
            m = np.rint(scaled)
            frac = scaled - np.floor(scaled)
            clear = (np.abs(frac - 0.5) > 1e-6) & (scaled > 100.0 + 1e-6) & (scaled < 1000.0 - 1e-6)
            ok = finite & ~whole & (a > 0) & (e >= -4) & (e <= 2) & clear
            key[ok] = np.where(np.signbit(v[ok]), -1.0, 1.0) * ((e[ok] + 10) * 10_000 + m[ok]) + 0.5  # never whole
            exact[ok] = False
    return key, exact


def _shap_keys(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key, exact) for ``%+.3f`` of each SHAP value: the rounded thousandths, -0.000 apart."""
    s = np.asarray(v, dtype=np.float64) * 1000.0
    key = np.rint(s)
    frac = np.abs(s - np.trunc(s))
    exact = (np.abs(frac - 0.5) < 1e-6) | ~np.isfinite(s) | ((key == 0) & np.signbit(v))
    return np.where(exact, v, key), exact


def _texts_by_key(groups, fmt, n: int):
    """Arrow strings for n elements, formatting one representative per distinct key.

    ``groups``: (positions, key, exact, payload); ``fmt(payload, i)`` formats element i of a group.
    Keys of the ``exact`` and the other elements are never mixed (they mean different things).
    """
    import pyarrow as pa

    table: list[str] = []
    idx = np.zeros(n, dtype=np.int64)
    for pos, key, exact, payload in groups:
        for sel in (~exact, exact):
            where = np.flatnonzero(sel)
            if where.size == 0:
                continue
            codes, _ = pd.factorize(key[where], use_na_sentinel=False)
            # factorize numbers keys in order of first appearance: a code is new where the running
            # maximum grows, which gives one representative per code without a sort.
            top = np.maximum.accumulate(codes)
            new = np.empty(len(codes), dtype=bool)
            new[0] = True
            new[1:] = top[1:] > top[:-1]
            first = where[new]
            idx[pos[where]] = len(table) + codes
            table.extend(fmt(payload, int(i)) for i in first)
    return pa.array(table, type=pa.string()).take(pa.array(idx))


def top_reasons_array(values, data, specs: Sequence[Mapping[str, Any]], k: int = 3):
    """:func:`top_reasons_tabular` as a pyarrow string array, built column-wise.

    Hand-written because a Python f-string per row costs ~25 s for a million rows: each text
    piece is formatted once per *distinct* rendering (a key that determines what ``%.3g`` /
    ``%.0f`` / ``%+.3f`` print; values near a rounding tie are keyed by themselves) and the rows
    are assembled with pyarrow ``take`` and ``binary_join_element_wise``. Same text as
    :func:`_reference_top_reasons` (tested).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.asarray(values, dtype=np.float64)
    data = np.asarray(data, dtype=np.float64)
    n, f = values.shape
    k = min(k, f)
    if n == 0 or k == 0:
        return pa.array([""] * n, type=pa.string())
    order = _top_k(values, k)
    rows = np.arange(n)
    slots = []
    for r in range(k):
        j_r = order[:, r]
        v_r = data[rows, j_r]
        s_r = values[rows, j_r]
        groups = []
        for j in range(f):
            pos = np.flatnonzero(j_r == j)
            if pos.size:
                key, exact = _value_keys(v_r[pos], specs[j].get("type") == "integer")
                groups.append((pos, key, exact, (j, v_r[pos])))
        val = _texts_by_key(
            groups, lambda p, i: f"{specs[p[0]].get('name')} = {format_value(float(p[1][i]), specs[p[0]])} (", n)
        key, exact = _shap_keys(s_r)
        end = ")" if r == k - 1 else "); "
        shp = _texts_by_key([(rows, key, exact, s_r)], lambda p, i: f"{_signed(float(p[i]))}{end}", n)
        slots += [val, shp]
    return pc.binary_join_element_wise(*slots, "")


def top_reasons_text(exp, label: str | int, k: int = 3) -> str:
    """The k words with the largest |SHAP| for ``label``: ``word (+0.123); ...`` (words merged by sum)."""
    j = class_index(exp.output_names, label)
    merged: dict[str, float] = {}
    for name, v in zip(exp.feature_names, np.asarray(exp.values)[:, j]):
        merged[name.lower()] = merged.get(name.lower(), 0.0) + float(v)
    best = sorted(merged.items(), key=lambda kv: -abs(kv[1]))[:k]
    return "; ".join(f"{w} ({_signed(v)})" for w, v in best)
