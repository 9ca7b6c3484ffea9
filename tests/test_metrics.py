"""Metric functions against scikit-learn, statsmodels and hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    precision_score,
    recall_score,
    roc_auc_score,
    top_k_accuracy_score,
)

from medviz import metrics as M


def _sample(n=400, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.25 * y + rng.random(n) * 0.75, 0, 1)
    return y, (np.round(p, 2) if ties else p)


def _wilson(k, n, z=1.959963984540054):
    """Wilson score interval written out from its formula (Wilson 1927)."""
    ph = k / n
    centre = (ph + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# --- weighted (bootstrap) estimators equal scikit-learn at unit weights ---------------------------


@pytest.mark.parametrize("ties", [True, False])
def test_weighted_auc_ap_brier_match_sklearn(ties):
    y, p = _sample(ties=ties)
    ones = np.ones((1, len(y)), dtype=np.float32)
    assert M.weighted_auc(ones, y, p)[0] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert M.weighted_ap(ones, y, p)[0] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert M.weighted_brier(ones, y, p)[0] == pytest.approx(brier_score_loss(y, p), abs=1e-7)


def test_weighted_auc_with_counts_equals_auc_of_repeated_rows():
    y, p = _sample(60, seed=2)
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 3, size=(1, 60)).astype(np.float32)
    rep = np.repeat(np.arange(60), counts[0].astype(int))
    assert M.weighted_auc(counts, y, p)[0] == pytest.approx(roc_auc_score(y[rep], p[rep]))
    assert M.weighted_ap(counts, y, p)[0] == pytest.approx(average_precision_score(y[rep], p[rep]))


def test_stratified_counts_keep_class_sizes():
    y = np.array([0] * 30 + [1] * 7)
    c = M.stratified_counts(y, 50, np.random.default_rng(0))
    assert c.shape == (50, 37)
    assert np.all(c[:, y == 1].sum(axis=1) == 7) and np.all(c[:, y == 0].sum(axis=1) == 30)


def test_bootstrap_ci_brackets_estimate_records_seed_and_is_reproducible():
    y, p = _sample()
    a = M.bootstrap_binary(y, p, resamples=1000, seed=7)
    b = M.bootstrap_binary(y, p, resamples=1000, seed=7)
    for k in ("auc", "average_precision", "brier"):
        assert a[k].lo < a[k].estimate < a[k].hi
        assert (a[k].resamples, a[k].seed) == (1000, 7)
        assert (a[k].lo, a[k].hi) == (b[k].lo, b[k].hi)
    c = M.bootstrap_binary(y, p, resamples=1000, seed=8)
    assert c["auc"].lo != a["auc"].lo


# --- hand-computed cases ----------------------------------------------------------------------------


def test_known_two_by_two_table():
    # 60 with the outcome (40 flagged), 40 without (10 flagged).
    y = np.array([1] * 60 + [0] * 40)
    p = np.array([0.9] * 40 + [0.1] * 20 + [0.9] * 10 + [0.1] * 30)
    cm = M.confusion_at(y, p, 0.5)
    assert (cm["tp"], cm["fn"], cm["fp"], cm["tn"]) == (40, 20, 10, 30)
    assert cm["sensitivity"] == pytest.approx(40 / 60)
    assert cm["specificity"] == pytest.approx(30 / 40)
    assert cm["ppv"] == pytest.approx(40 / 50)
    assert cm["npv"] == pytest.approx(30 / 50)
    lo, hi = _wilson(40, 60)
    assert (cm["sensitivity_lo"], cm["sensitivity_hi"]) == (pytest.approx(lo), pytest.approx(hi))
    lo, hi = _wilson(30, 50)
    assert (cm["npv_lo"], cm["npv_hi"]) == (pytest.approx(lo), pytest.approx(hi))
    assert cm["flagged_share"] == pytest.approx(0.5)


def test_perfect_model():
    y = np.array([0] * 50 + [1] * 50)
    p = y.astype(float)
    boot = M.bootstrap_binary(y, p, resamples=200, seed=1)
    assert boot["auc"].estimate == 1.0 and boot["auc"].lo == 1.0
    assert boot["average_precision"].estimate == 1.0
    assert boot["brier"].estimate == 0.0
    cm = M.confusion_at(y, p, 0.5)
    assert cm["sensitivity"] == cm["specificity"] == cm["ppv"] == cm["npv"] == 1.0
    assert M.binary_ece(y, p) == 0.0
    cal = M.calibration_intercept_slope(y, np.where(y == 1, 0.8, 0.2))
    assert cal.slope is None and "separation" in cal.note
    dc = M.decision_curve(y, p, [0.2, 0.5])
    assert dc["net_benefit"].tolist() == pytest.approx([0.5, 0.5])  # every event caught, no false positives


def test_constant_model():
    y = np.array([0] * 70 + [1] * 30)
    p = np.full(100, 0.3)
    assert M.auc(y, p) == 0.5
    assert M.average_precision(y, p) == pytest.approx(0.3)
    assert M.brier(y, p) == pytest.approx(0.3 * 0.7)
    cal = M.calibration_intercept_slope(y, p)
    assert cal.slope is None and "constant" in cal.note
    assert cal.intercept == pytest.approx(0.0, abs=1e-6)  # mean risk equals prevalence
    assert cal.observed_expected == pytest.approx(1.0)
    dc = M.decision_curve(y, p, [0.1, 0.3, 0.5])
    # at pt <= 0.3 everyone is flagged (= treat all); above it no one (= treat none)
    assert dc["net_benefit"].iloc[0] == pytest.approx(dc["treat_all"].iloc[0])
    assert dc["net_benefit"].iloc[1] == pytest.approx(dc["treat_all"].iloc[1])
    assert dc["net_benefit"].iloc[2] == 0.0
    assert M.smoothed_calibration(y, p).empty


def test_decision_curve_hand_computed():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.8, 0.4, 0.6, 0.2, 0.1])
    dc = M.decision_curve(y, p, [0.5])
    # at 0.5: TP = 1 (0.8), FP = 1 (0.6); NB = 1/5 - 1/5 * 1 = 0; treat all = 2/5 - 3/5 = -0.2
    assert dc["net_benefit"].iloc[0] == pytest.approx(0.0)
    assert dc["treat_all"].iloc[0] == pytest.approx(-0.2)
    dc = M.decision_curve(y, p, [0.25])
    # TP 2, FP 1, w = 1/3: 2/5 - 1/5/3
    assert dc["net_benefit"].iloc[0] == pytest.approx(0.4 - 0.2 / 3)


def test_binary_ece_hand_computed():
    y = np.array([1, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    # bin 0: observed 0.5, predicted 0.05 -> 0.45 x 2/4; bin 9: observed 1, predicted 0.95 -> 0.05 x 2/4
    assert M.binary_ece(y, p) == pytest.approx(0.25)


def test_wilson_matches_formula_and_handles_zero():
    assert M.wilson_ci(7, 10) == pytest.approx(_wilson(7, 10))
    assert M.wilson_ci(0, 0) == (None, None)


# --- calibration against statsmodels / simulation ----------------------------------------------------


def test_calibration_slope_recovers_known_miscalibration():
    rng = np.random.default_rng(0)
    lp = rng.normal(0, 1.5, 5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-lp))).astype(int)
    good = M.calibration_intercept_slope(y, 1 / (1 + np.exp(-lp)))
    assert good.slope_lo < 1 < good.slope_hi
    assert good.intercept_lo < 0 < good.intercept_hi
    over = M.calibration_intercept_slope(y, 1 / (1 + np.exp(-2 * lp)))  # risks too extreme
    assert over.slope == pytest.approx(0.5, abs=0.06)
    low = M.calibration_intercept_slope(y, 1 / (1 + np.exp(-(lp - 1))))  # risks too low
    assert low.intercept == pytest.approx(1.0, abs=0.12)


def test_binned_and_smoothed_calibration_tables():
    y, p = _sample(1000, seed=3, ties=False)
    bins = M.binned_calibration(y, p)
    assert bins["n"].sum() == 1000 and bins["events"].sum() == y.sum()
    assert (bins["observed_lo"] <= bins["observed"]).all() and (bins["observed"] <= bins["observed_hi"]).all()
    sm = M.smoothed_calibration(y, p)
    assert len(sm) == 101
    assert ((sm["observed_lo"] <= sm["observed"] + 1e-12) & (sm["observed"] <= sm["observed_hi"] + 1e-12)).all()
    assert sm["observed"].between(0, 1).all()


def test_roc_and_pr_tables():
    y, p = _sample()
    roc = M.roc_table(y, p)
    assert roc["fpr"].iloc[0] == 0 and roc["tpr"].iloc[-1] == 1
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(roc_auc_score(y, p))
    assert M.roc_table(np.zeros(5), np.linspace(0, 1, 5)).empty


def test_input_checks_name_the_problem():
    with pytest.raises(ValueError, match="only 0 and 1"):
        M.auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="same length"):
        M.auc([0, 1], [0.1])


# --- multiclass -----------------------------------------------------------------------------------


def _multiclass(n=300, k=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, probs


def test_per_class_table_matches_sklearn():
    y, probs = _multiclass()
    labels = [f"d{i}" for i in range(5)]
    t = M.per_class_table(y, probs, labels)
    pred = probs.argmax(axis=1)
    assert t["sensitivity"].tolist() == pytest.approx(recall_score(y, pred, average=None))
    assert t["ppv"].tolist() == pytest.approx(precision_score(y, pred, average=None))
    assert t["auc"].tolist() == pytest.approx([roc_auc_score(y == c, probs[:, c]) for c in range(5)])
    assert t["support"].sum() == len(y)
    cm = M.confusion_table(y, probs, labels)
    assert (cm.to_numpy() == confusion_matrix(y, pred)).all()


def test_top_k_hits_and_macro_auc_ci():
    y, probs = _multiclass()
    assert M.top_k_hits(y, probs, 3) / len(y) == pytest.approx(top_k_accuracy_score(y, probs, k=3))
    ci = M.bootstrap_macro_auc(y, probs, resamples=300, seed=1)
    assert ci.estimate == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    assert ci.lo < ci.estimate < ci.hi and ci.resamples == 300


def test_top_label_reliability_counts():
    y, probs = _multiclass()
    rel = M.top_label_reliability(y, probs)
    assert rel["n"].sum() == len(y)
    acc = (probs.argmax(axis=1) == y).mean()
    assert (rel["accuracy"] * rel["n"]).sum() / len(y) == pytest.approx(acc)


def test_multiclass_summary_unchanged():
    y, probs = _multiclass()
    s = M.multiclass_summary(y, probs)
    assert set(s) == {"top1_accuracy", "top3_accuracy", "macro_auc", "ece", "nll"}
    assert s["top1_accuracy"] == pytest.approx(top_k_accuracy_score(y, probs, k=1))
    assert isinstance(pd.Series(s), pd.Series)


def test_most_confused_pairs_for_wide_label_sets():
    import pandas as pd

    from medviz.metrics import most_confused_pairs

    labels = ["a", "b", "c"]
    cm = pd.DataFrame([[5, 3, 0], [1, 7, 0], [4, 0, 2]], index=labels, columns=labels)
    pairs = most_confused_pairs(cm, n=2)
    assert pairs[["true", "predicted", "count"]].values.tolist() == [["c", "a", 4], ["a", "b", 3]]
    assert abs(pairs["share_of_true"].iloc[0] - 4 / 6) < 1e-12
    assert most_confused_pairs(pd.DataFrame([[3, 0], [0, 2]]), n=5).empty
