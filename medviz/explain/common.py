"""What both families' explanations share: the class picker and the additivity identity (base value + sum of SHAP values)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from medviz.errors import InputError


Progress = Callable[[int, int], None]  # (done, total)

SCALE_NOTE = "calibrated probability"


def class_index(labels: Sequence[str], label: str | int) -> int:
    if isinstance(label, (int, np.integer)):
        if not 0 <= int(label) < len(labels):
            raise InputError(f"label index {label} out of range (0..{len(labels) - 1})")
        return int(label)
    try:
        return list(labels).index(label)
    except ValueError:
        raise InputError(f"diagnosis '{label}' is not one of the model's labels") from None


def for_class(explanation, label: str | int):
    """The (n_words,) explanation of one class out of a (n_words, n_classes) text explanation."""
    import shap

    j = class_index(explanation.output_names, label)
    return shap.Explanation(
        values=np.asarray(explanation.values)[:, j],
        base_values=float(np.asarray(explanation.base_values)[j]),
        data=explanation.data,
        feature_names=list(explanation.feature_names),
    )


def model_output(explanation) -> np.ndarray:
    """What an explanation adds up to: base value + sum of SHAP values over the features.

    Text explanations are (n_words, n_classes) with one base value per class -> (n_classes,);
    tabular ones are (N, F) with one base value per row -> (N,); a single-output one -> scalar.
    """
    values = np.asarray(explanation.values, dtype=np.float64)
    base = np.asarray(explanation.base_values, dtype=np.float64)
    if values.ndim == 1:
        return base + values.sum()
    if isinstance(explanation.output_names, (list, tuple)):  # text: words x classes
        return base + values.sum(axis=0)
    return base + values.sum(axis=1)
