"""Pure metric functions over arrays (y_true, y_score) -> numbers or tables. Built on scikit-learn."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, top_k_accuracy_score


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int) -> float:
    k = min(k, probs.shape[1])
    if probs.shape[1] == 2:  # scikit-learn wants the positive-class column for binary problems
        return 1.0 if k >= 2 else float(np.mean(probs.argmax(axis=1) == y_true))
    return float(top_k_accuracy_score(y_true, probs, k=k, labels=np.arange(probs.shape[1])))


def top_label_ece(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error of the top label (equal-width confidence bins, weighted by count).

    Written out because scikit-learn has no ECE; it is ten lines and the definition (Guo et al. 2017)
    is unambiguous.
    """
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def macro_ovr_auc(y_true: np.ndarray, probs: np.ndarray) -> float | None:
    present = np.unique(y_true)
    if len(present) < 2:
        return None
    if probs.shape[1] == 2:
        return float(roc_auc_score(y_true, probs[:, 1]))
    # Only classes present in y_true can be scored one-vs-rest.
    aucs = [roc_auc_score(y_true == c, probs[:, c]) for c in present]
    return float(np.mean(aucs))


def multiclass_summary(y_true: np.ndarray, probs: np.ndarray) -> dict[str, float | None]:
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        return {"top1_accuracy": None, "top3_accuracy": None, "macro_auc": None, "ece": None, "nll": None}
    p_true = np.clip(probs[np.arange(len(y_true)), y_true], 1e-12, 1.0)
    return {
        "top1_accuracy": top_k_accuracy(y_true, probs, 1),
        "top3_accuracy": top_k_accuracy(y_true, probs, 3),
        "macro_auc": macro_ovr_auc(y_true, probs),
        "ece": top_label_ece(y_true, probs),
        "nll": float(-np.log(p_true).mean()),
    }
