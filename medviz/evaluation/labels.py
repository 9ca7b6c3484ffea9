"""Outcome labels from user files: binary words / the manifest's labels, diagnosis names to class indices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.errors import SchemaError, line_numbers


TRUE_WORDS = {"1", "1.0", "true", "t", "yes", "y", "positive", "pos"}
FALSE_WORDS = {"0", "0.0", "false", "f", "no", "n", "negative", "neg"}


# ------------------------------------------------------------------------------------------------
# Bundles
# ------------------------------------------------------------------------------------------------


def positive_label(bundle: ModelBundle) -> str:
    return str(bundle.manifest.get("positive_label") or bundle.labels[-1])


# ------------------------------------------------------------------------------------------------
# Labels from user files
# ------------------------------------------------------------------------------------------------


def binary_labels(values: pd.Series, bundle: ModelBundle, where: str = "label column") -> np.ndarray:
    """0/1, true/false, yes/no, or the outcome's own values (manifest labels; positive = positive_label)."""
    y, bad = _binary_labels(values, bundle)
    if bad:
        raise SchemaError(f"{where}: {bad_lines(values, bad)} hold a value that is not an outcome; " + _label_hint(bundle))
    return y


def bad_lines(values: pd.Series, bad: list[str]) -> str:
    """Where the unusable labels are (line numbers, header = line 1) — never the values: a wrongly chosen
    column may hold names or notes."""
    return line_numbers(np.flatnonzero(values.astype(str).isin(bad).to_numpy()))


def _label_hint(bundle: ModelBundle) -> str:
    pos = positive_label(bundle)
    neg = [lab for lab in bundle.labels if lab != pos]
    return f"expected 0/1, true/false, or {neg[0] if neg else 'negative'}/{pos} (positive = {pos})"


def _binary_labels(values: pd.Series, bundle: ModelBundle) -> tuple[np.ndarray, list[str]]:
    pos = positive_label(bundle).strip().lower()
    negs = {lab.strip().lower() for lab in bundle.labels if lab.strip().lower() != pos}
    s = values.astype(str).str.strip().str.lower()
    is_pos = s.isin(TRUE_WORDS | {pos})
    is_neg = s.isin(FALSE_WORDS | negs)
    if pos in FALSE_WORDS or (negs & TRUE_WORDS):
        # The outcome's own values win over generic words (a positive class literally called "no"...).
        is_pos = s.eq(pos)
        is_neg = s.isin(negs)
    bad = sorted(set(values[~(is_pos | is_neg)].astype(str)))
    return is_pos.to_numpy().astype(int), bad


def labels_to_index(values: pd.Series, labels: list[str], where: str = "label column") -> np.ndarray:
    """Diagnosis names (case- and space-insensitive) -> class indices; unknown names raise."""
    idx, unknown = _label_index(values, labels)
    if unknown:
        raise SchemaError(
            f"{where}: {line_numbers(np.flatnonzero(idx < 0))} hold a label the model does not know"
            f"; expected one of: {', '.join(labels)}"
        )
    return idx


def _label_index(values: pd.Series, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    norm = {" ".join(lab.lower().split()): i for i, lab in enumerate(labels)}
    keys = values.astype(str).map(lambda v: " ".join(v.lower().split()))
    idx = keys.map(norm)
    unknown = sorted(set(values[idx.isna()].astype(str)))
    return idx.fillna(-1).to_numpy(dtype=int), unknown
