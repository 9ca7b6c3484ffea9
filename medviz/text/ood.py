"""Out-of-scope scores for text cases: higher = less like the cases the model was trained on.

Candidates measured at training time (AUROC recorded in the manifest, the best one is deployed):

- ``energy``: -logsumexp(logits) over the temperature-scaled logits (Liu et al., NeurIPS 2020). With
  outlier exposure in training the logits of unfamiliar text are pushed flat and low.
- ``msp``: 1 - maximum softmax probability (Hendrycks & Gimpel 2017), the usual baseline.
- ``unknown_share``: share of the case's tokens outside the model's vocabulary.

The flag threshold is a quantile of the in-scope held-out (calibration) scores, so the share of
in-scope cases flagged is set in advance rather than tuned on the evaluation cases.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, softmax

from medviz.errors import InputError

METHODS = ("energy", "msp", "unknown_share")


def energy_score(logits: np.ndarray) -> np.ndarray:
    return -logsumexp(np.asarray(logits, dtype=float), axis=1)


def msp_score(logits: np.ndarray) -> np.ndarray:
    return 1.0 - softmax(np.asarray(logits, dtype=float), axis=1).max(axis=1)


def scores(method: str, logits: np.ndarray, unknown_share: np.ndarray) -> np.ndarray:
    if method == "energy":
        return energy_score(logits)
    if method == "msp":
        return msp_score(logits)
    if method == "unknown_share":
        return np.asarray(unknown_share, dtype=float)
    raise InputError(f"unknown out-of-scope method '{method}'; expected one of {', '.join(METHODS)}")


@dataclass(frozen=True)
class OutOfScopeDetector:
    method: str
    threshold: float  # flag when score > threshold
    in_scope_quantile: float  # the calibration quantile the threshold was set at

    def score(self, logits: np.ndarray, unknown_share: np.ndarray) -> np.ndarray:
        return scores(self.method, logits, unknown_share)

    def flag(self, score: np.ndarray) -> np.ndarray:
        return np.asarray(score) > self.threshold

    def to_manifest(self) -> dict:
        return {"method": self.method, "threshold": self.threshold, "in_scope_quantile": self.in_scope_quantile}

    @classmethod
    def from_manifest(cls, d: dict) -> "OutOfScopeDetector":
        try:
            method = str(d["method"])
            if method not in METHODS:
                raise ValueError(f"unknown method '{method}'")
            return cls(method=method, threshold=float(d["threshold"]), in_scope_quantile=float(d["in_scope_quantile"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"manifest 'out_of_scope' section is incomplete or malformed: {exc}") from exc


def fit_threshold(method: str, in_scope_scores: np.ndarray, quantile: float) -> OutOfScopeDetector:
    if not 0.5 <= quantile < 1.0:
        raise InputError(f"out-of-scope quantile must be in [0.5, 1), got {quantile}")
    thr = float(np.quantile(np.asarray(in_scope_scores, dtype=float), quantile, method="higher"))
    return OutOfScopeDetector(method=method, threshold=thr, in_scope_quantile=quantile)


def auroc(in_scope_scores: np.ndarray, out_scope_scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(in_scope_scores) == 0 or len(out_scope_scores) == 0:
        return None
    y = np.r_[np.zeros(len(in_scope_scores)), np.ones(len(out_scope_scores))]
    return float(roc_auc_score(y, np.r_[in_scope_scores, out_scope_scores]))
