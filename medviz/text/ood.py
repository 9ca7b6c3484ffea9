"""Out-of-scope scores for text cases: higher = less like the cases the model was trained on.

Candidates measured at training time (AUROC recorded in the manifest, the best one is deployed):

- ``energy``: -logsumexp(logits) over the temperature-scaled logits (Liu et al., NeurIPS 2020). With
  outlier exposure in training the logits of unfamiliar text are pushed flat and low.
- ``msp``: 1 - maximum softmax probability (Hendrycks & Gimpel 2017), the usual baseline.
- ``unknown_share``: share of the case's tokens outside the model's vocabulary.
- ``energy_unknown``: energy + w x unknown share. The two are complementary (a case about another
  condition uses words the model never saw, and the energy of the words it knows is low). ``w`` is not
  tuned on evaluation cases: it is the gap between the median energy of the outlier-exposure texts
  and of the in-scope calibration cases, i.e. a case made only of unknown words scores like a typical
  out-of-scope text; it is stored in the manifest (``unknown_weight``).

The flag threshold is a quantile of the in-scope held-out (calibration) scores, so the share of
in-scope cases flagged is set in advance rather than tuned on the evaluation cases.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, softmax

from medviz.errors import InputError

METHODS = ("energy", "msp", "unknown_share", "energy_unknown")


def energy_score(logits: np.ndarray) -> np.ndarray:
    """(N,) -logsumexp of each row of (N, C) logits, computed in row blocks (same numbers, no (N, C)
    temporaries: medviz.text.rowwise)."""
    from medviz.text.rowwise import by_row_blocks

    return by_row_blocks(lambda x: -logsumexp(np.asarray(x, dtype=float), axis=1), np.asarray(logits))


def msp_score(logits: np.ndarray) -> np.ndarray:
    return 1.0 - softmax(np.asarray(logits, dtype=float), axis=1).max(axis=1)


def scores(method: str, logits: np.ndarray, unknown_share: np.ndarray, unknown_weight: float = 0.0) -> np.ndarray:
    if method == "energy_unknown":
        return energy_score(logits) + float(unknown_weight) * np.asarray(unknown_share, dtype=float)
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
    unknown_weight: float = 0.0  # energy_unknown only

    def score(self, logits: np.ndarray, unknown_share: np.ndarray) -> np.ndarray:
        return scores(self.method, logits, unknown_share, self.unknown_weight)

    def flag(self, score: np.ndarray) -> np.ndarray:
        return np.asarray(score) > self.threshold

    def to_manifest(self) -> dict:
        out = {"method": self.method, "threshold": self.threshold, "in_scope_quantile": self.in_scope_quantile}
        return out | ({"unknown_weight": self.unknown_weight} if self.method == "energy_unknown" else {})

    @classmethod
    def from_manifest(cls, d: dict) -> "OutOfScopeDetector":
        try:
            method = str(d["method"])
            if method not in METHODS:
                raise ValueError(f"unknown method '{method}'")
            return cls(
                method=method, threshold=float(d["threshold"]), in_scope_quantile=float(d["in_scope_quantile"]),
                unknown_weight=float(d.get("unknown_weight", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"manifest 'out_of_scope' section is incomplete or malformed: {exc}") from exc


def fit_threshold(method: str, in_scope_scores: np.ndarray, quantile: float, unknown_weight: float = 0.0) -> OutOfScopeDetector:
    if not 0.5 <= quantile < 1.0:
        raise InputError(f"out-of-scope quantile must be in [0.5, 1), got {quantile}")
    thr = float(np.quantile(np.asarray(in_scope_scores, dtype=float), quantile, method="higher"))
    return OutOfScopeDetector(method=method, threshold=thr, in_scope_quantile=quantile, unknown_weight=float(unknown_weight))


def unknown_weight_from(exposure_logits: np.ndarray, in_scope_logits: np.ndarray) -> float:
    """w for ``energy_unknown``: median energy of outlier-exposure texts minus that of in-scope cases."""
    if len(exposure_logits) == 0 or len(in_scope_logits) == 0:
        return 0.0
    return max(0.0, float(np.median(energy_score(exposure_logits)) - np.median(energy_score(in_scope_logits))))


def auroc(in_scope_scores: np.ndarray, out_scope_scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(in_scope_scores) == 0 or len(out_scope_scores) == 0:
        return None
    y = np.r_[np.zeros(len(in_scope_scores)), np.ones(len(out_scope_scores))]
    return float(roc_auc_score(y, np.r_[in_scope_scores, out_scope_scores]))
