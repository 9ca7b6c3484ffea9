"""Binary-outcome summaries used in the manifest and on the Case page (pure functions over arrays)."""
from __future__ import annotations

from typing import Any

import numpy as np


def threshold_metrics(y: np.ndarray, risk: np.ndarray, threshold: float) -> dict[str, Any]:
    """Confusion counts and sens/spec/PPV/NPV for 'risk >= threshold' (None where undefined)."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(risk, dtype=float) >= threshold
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())

    def ratio(a: int, b: int) -> float | None:
        return None if b == 0 else a / b

    return {"threshold": float(threshold), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "sensitivity": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp),
            "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn)}


def calibration_slope_intercept(y: np.ndarray, risk: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration (Cox 1958): slope of logit(risk); intercept with the slope fixed at 1."""
    import statsmodels.api as sm

    p = np.clip(np.asarray(risk, dtype=float), 1e-6, 1 - 1e-6)
    lp = np.log(p / (1 - p))
    y = np.asarray(y, dtype=float)
    slope = float(sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1])
    intercept = float(sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit().params[0])
    return slope, intercept


def binary_summary(y: np.ndarray, risk: np.ndarray, high_cut: float) -> dict[str, Any]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y).astype(int)
    slope, intercept = calibration_slope_intercept(y, risk)
    return {
        "n": int(len(y)), "events": int(y.sum()), "prevalence": float(y.mean()),
        "auc": float(roc_auc_score(y, risk)), "brier": float(brier_score_loss(y, risk)),
        "calibration_slope": slope, "calibration_intercept": intercept,
        "mean_predicted_risk": float(np.mean(risk)),
        "at_high_risk_threshold": threshold_metrics(y, risk, high_cut),
    }
