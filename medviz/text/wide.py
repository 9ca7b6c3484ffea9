"""Helpers for bundles with wide label sets (hundreds of diagnoses): the scored CSV's top-k columns."""
from __future__ import annotations

import numpy as np

from medviz.errors import InputError


def check_top_k(k) -> int:
    """``k`` as an int; :class:`InputError` unless a whole number >= 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"--top-k must be a whole number of at least 1, got {k!r}")
    return int(k)


def top_k_names(k: int) -> list[str]:
    """``top_1 … top_K`` then ``top_1_probability … top_K_probability`` (the scored-CSV contract)."""
    return [f"top_{i}" for i in range(1, k + 1)] + [f"top_{i}_probability" for i in range(1, k + 1)]


def top_k_columns(labels, probabilities: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The k most probable labels of each row and their probabilities, highest first.

    ``probabilities``: (N, C) calibrated; a row of NaN (not scored) gets "" labels and NaN probabilities.
    ``k`` above C is cut to C. Raises :class:`InputError` for k < 1. One ``argpartition`` + a sort of k
    columns per row (no full sort of C)."""
    k = check_top_k(k)
    p = np.asarray(probabilities, dtype=float)
    n, c = p.shape
    k = min(int(k), c)
    safe = np.where(np.isnan(p), -np.inf, p)
    part = np.argpartition(-safe, k - 1, axis=1)[:, :k] if k < c else np.tile(np.arange(c), (n, 1))
    order = np.take_along_axis(part, np.argsort(-np.take_along_axis(safe, part, axis=1), axis=1, kind="stable"), axis=1)
    top_p = np.take_along_axis(p, order, axis=1)
    names = np.asarray([str(x) for x in labels], dtype=object)[order]
    blank = np.isnan(p).all(axis=1)
    names[blank] = ""
    out: dict[str, np.ndarray] = {}
    for i in range(k):
        out[f"top_{i + 1}"] = names[:, i]
    for i in range(k):
        out[f"top_{i + 1}_probability"] = top_p[:, i]
    return out
