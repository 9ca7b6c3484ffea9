"""Split-conformal prediction sets for a classifier's calibrated probabilities.

Score: 1 - p(true class) (the "LAC"/least-ambiguous set-valued classifier score, Sadinle et al. 2019),
which gives the smallest average sets. On a held-out calibration split of n cases the threshold is
the ceil((n+1)(1-alpha))/n empirical quantile of the scores; a new case's set is every class whose
score is at most that threshold. Marginal coverage >= 1 - alpha holds for exchangeable data
(Vovk et al.; Angelopoulos & Bates 2021). Written out because it is a quantile and a comparison;
mapie/crepes would add a heavy dependency and want a scikit-learn estimator around the Keras model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medviz.errors import InputError

DEFAULT_COVERAGE = 0.90


@dataclass(frozen=True)
class ConformalCalibration:
    coverage: float  # target 1 - alpha
    threshold: float  # on the score 1 - p(class): classes with score <= threshold are in the set
    n_calibration: int
    score: str = "1 - calibrated probability of the class (LAC)"

    @property
    def min_probability(self) -> float:
        """A class enters the set when its calibrated probability is at least this."""
        return 1.0 - self.threshold

    def to_manifest(self) -> dict:
        return {
            "method": "split conformal",
            "score": self.score,
            "coverage": self.coverage,
            "threshold": self.threshold,
            "min_probability": self.min_probability,
            "n_calibration": self.n_calibration,
        }

    @classmethod
    def from_manifest(cls, d: dict) -> "ConformalCalibration":
        try:
            return cls(coverage=float(d["coverage"]), threshold=float(d["threshold"]), n_calibration=int(d["n_calibration"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"manifest 'conformal' section is incomplete or malformed: {exc}") from exc


def calibrate(probs: np.ndarray, y: np.ndarray, coverage: float = DEFAULT_COVERAGE) -> ConformalCalibration:
    if not 0.0 < coverage < 1.0:
        raise InputError(f"conformal coverage must be between 0 and 1 (exclusive), got {coverage}")
    probs = np.asarray(probs, dtype=float)
    y = np.asarray(y, dtype=int)
    n = len(y)
    if n == 0:
        raise InputError("conformal calibration needs at least one held-out case")
    scores = 1.0 - probs[np.arange(n), y]
    level = min(1.0, np.ceil((n + 1) * coverage) / n)
    threshold = float(np.quantile(scores, level, method="higher"))
    return ConformalCalibration(coverage=coverage, threshold=threshold, n_calibration=n)


def prediction_sets(probs: np.ndarray, cal: ConformalCalibration) -> np.ndarray:
    """Boolean (N, C) membership. A set can be empty: no class is probable enough to be stood behind
    at the stated coverage (a sign of an unusual case), which is shown as such rather than padded."""
    from medviz.text.rowwise import by_row_blocks

    limit = cal.threshold + 1e-12
    return by_row_blocks(lambda p: (1.0 - np.asarray(p, dtype=float)) <= limit, np.asarray(probs))


def evaluate(probs: np.ndarray, y: np.ndarray, cal: ConformalCalibration) -> dict[str, float]:
    """Empirical coverage and set-size summary of ``cal`` on labelled cases."""
    member = prediction_sets(probs, cal)
    y = np.asarray(y, dtype=int)
    sizes = member.sum(axis=1)
    return {
        "coverage": float(member[np.arange(len(y)), y].mean()) if len(y) else float("nan"),
        "mean_set_size": float(sizes.mean()) if len(y) else float("nan"),
        "share_singleton": float((sizes == 1).mean()) if len(y) else float("nan"),
        "n": int(len(y)),
    }
