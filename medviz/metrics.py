"""Pure metric functions over arrays (y_true, y_score) -> numbers or tables. Built on scikit-learn."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, top_k_accuracy_score

from medviz.i18n import N_, Message, join_messages


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


# ---------------------------------------------------------------------------------------------
# Binary outcomes (tabular risks, and one-vs-rest views of a multiclass model)
# ---------------------------------------------------------------------------------------------
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pandas as pd  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_curve,
)

EPS = 1e-6
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20240501


def _as_binary(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(float)
    p = np.asarray(y_score, dtype=float)
    if y.ndim != 1 or p.ndim != 1 or len(y) != len(p):
        raise ValueError(f"y_true and y_score must be 1-D and the same length, got {y.shape} and {p.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if np.isnan(p).any():
        raise ValueError("y_score holds missing values")
    return y.astype(int), p


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (statsmodels); (None, None) when n is 0."""
    from statsmodels.stats.proportion import proportion_confint

    if n <= 0:
        return None, None
    lo, hi = proportion_confint(int(successes), int(n), alpha=alpha, method="wilson")
    return float(lo), float(hi)


def _ratio(a: int, b: int) -> float | None:
    return float(a / b) if b else None


def confusion_at(y_true, y_score, threshold: float) -> dict[str, float | int | None]:
    """2x2 table at ``threshold`` (score >= threshold is called positive) with Wilson CIs."""
    y, p = _as_binary(y_true, y_score)
    pred = p >= threshold
    tp = int(((y == 1) & pred).sum())
    fp = int(((y == 0) & pred).sum())
    fn = int(((y == 1) & ~pred).sum())
    tn = int(((y == 0) & ~pred).sum())
    out: dict[str, float | int | None] = {"threshold": float(threshold), "tp": tp, "fp": fp, "fn": fn, "tn": tn}
    for name, k, n in (
        ("sensitivity", tp, tp + fn),
        ("specificity", tn, tn + fp),
        ("ppv", tp, tp + fp),
        ("npv", tn, tn + fn),
    ):
        out[name] = _ratio(k, n)
        out[f"{name}_lo"], out[f"{name}_hi"] = wilson_ci(k, n)
    out["flagged_share"] = _ratio(tp + fp, len(y))
    return out


def roc_table(y_true, y_score) -> pd.DataFrame:
    y, p = _as_binary(y_true, y_score)
    if len(np.unique(y)) < 2:
        return pd.DataFrame(columns=["fpr", "tpr", "threshold"])
    fpr, tpr, thr = roc_curve(y, p)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thr, 1.0)})


def pr_table(y_true, y_score) -> pd.DataFrame:
    y, p = _as_binary(y_true, y_score)
    if y.sum() == 0:
        return pd.DataFrame(columns=["recall", "precision", "threshold"])
    prec, rec, thr = precision_recall_curve(y, p)
    return pd.DataFrame({"recall": rec, "precision": prec, "threshold": np.append(thr, np.nan)})


def auc(y_true, y_score) -> float | None:
    y, p = _as_binary(y_true, y_score)
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, p))


def average_precision(y_true, y_score) -> float | None:
    y, p = _as_binary(y_true, y_score)
    if y.sum() == 0:
        return None
    return float(average_precision_score(y, p))


def brier(y_true, y_score) -> float:
    y, p = _as_binary(y_true, y_score)
    return float(brier_score_loss(y, p, pos_label=1)) if len(y) else float("nan")


def binary_ece(y_true, y_score, n_bins: int = 10) -> float:
    """Expected calibration error of a risk: equal-width bins, |observed - mean predicted| weighted by count.

    Hand-written for the same reason as :func:`top_label_ece` (no scikit-learn function).
    """
    y, p = _as_binary(y_true, y_score)
    if not len(y):
        return float("nan")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    obs = np.bincount(idx, weights=y, minlength=n_bins)
    pred = np.bincount(idx, weights=p, minlength=n_bins)
    return float(np.abs(obs - pred).sum() / len(y))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Recalibration:
    """Logistic recalibration (Cox 1958; Van Calster 2019): intercept with slope fixed at 1, and slope."""

    intercept: float | None
    intercept_lo: float | None
    intercept_hi: float | None
    slope: float | None
    slope_lo: float | None
    slope_hi: float | None
    observed_expected: float | None  # O/E ratio: events / sum of predicted risks
    note: str = ""


def calibration_intercept_slope(y_true, y_score) -> Recalibration:
    """Calibration-in-the-large (logit(P(y)) = a + offset(logit p)) and slope (logit(P(y)) = a + b·logit p).

    Both are GLM binomial fits in statsmodels, with Wald 95% CIs. Ideal: intercept 0, slope 1. When the
    fit cannot be made (one class only, a constant score, perfect separation) the value is None and
    ``note`` says why.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

    y, p = _as_binary(y_true, y_score)
    oe = float(y.sum() / p.sum()) if p.sum() > 0 else None
    none = dict(intercept=None, intercept_lo=None, intercept_hi=None, slope=None, slope_lo=None, slope_hi=None)
    if len(y) == 0 or y.min() == y.max():
        return Recalibration(**none, observed_expected=oe,
                             note=Message(N_("only one outcome class: calibration cannot be fitted")))
    lp = _logit(p)
    vals = dict(none)
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            fit = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit()
            ci = fit.conf_int()
            vals.update(intercept=float(fit.params[0]), intercept_lo=float(ci[0, 0]), intercept_hi=float(ci[0, 1]))
        except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError, ValueError):
            notes.append(Message(N_("intercept could not be fitted")))
        if np.ptp(lp) < 1e-9:
            notes.append(Message(N_("the score is constant: no calibration slope")))
        else:
            try:
                fit = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit()
                ci = fit.conf_int()
                if not np.all(np.isfinite(ci)):
                    raise ValueError("non-finite CI")
                vals.update(slope=float(fit.params[1]), slope_lo=float(ci[1, 0]), slope_hi=float(ci[1, 1]))
            except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError, ValueError):
                notes.append(Message(N_("perfect separation: the slope is unbounded (no finite estimate)")))
    return Recalibration(**vals, observed_expected=oe, note=join_messages(notes))


def binned_calibration(y_true, y_score, n_bins: int = 10) -> pd.DataFrame:
    """Observed event rate per risk group (quantile bins) with Wilson CIs."""
    y, p = _as_binary(y_true, y_score)
    cols = ["bin", "n", "events", "mean_predicted", "observed", "observed_lo", "observed_hi"]
    if not len(y):
        return pd.DataFrame(columns=cols)
    q = min(n_bins, max(1, len(np.unique(p))))
    bins = pd.qcut(pd.Series(p).rank(method="first"), q, labels=False) if q > 1 else pd.Series(np.zeros(len(p), int))
    rows = []
    for b in sorted(bins.unique()):
        sel = (bins == b).to_numpy()
        n, k = int(sel.sum()), int(y[sel].sum())
        lo, hi = wilson_ci(k, n)
        rows.append([int(b), n, k, float(p[sel].mean()), k / n, lo, hi])
    return pd.DataFrame(rows, columns=cols)


def smoothed_calibration(y_true, y_score, grid_points: int = 101) -> pd.DataFrame:
    """Flexible calibration curve with a pointwise 95% CI.

    Logistic regression of the outcome on a natural cubic spline of logit(risk) (statsmodels GLM with
    patsy's ``cr`` basis; Van Calster 2019 recommends loess or splines). Unlike lowess this gives a CI
    from the fit itself, without a second bootstrap. Evaluated on a grid from the 1st to 99th
    percentile of the risks (the curve is not extrapolated to where there are no patients).
    """
    import patsy
    import statsmodels.api as sm

    y, p = _as_binary(y_true, y_score)
    cols = ["predicted", "observed", "observed_lo", "observed_hi"]
    if len(y) < 20 or y.min() == y.max() or len(np.unique(p)) < 5:
        return pd.DataFrame(columns=cols)
    lp = _logit(p)
    df = 4 if len(y) >= 100 and min(y.sum(), len(y) - y.sum()) >= 20 else 3
    lo_q, hi_q = np.percentile(p, [1, 99])
    grid = np.linspace(lo_q, hi_q, grid_points)
    try:
        design = patsy.dmatrix(f"cr(x, df={df})", {"x": lp}, return_type="dataframe")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(y, design, family=sm.families.Binomial()).fit()
        new = patsy.build_design_matrices([design.design_info], {"x": _logit(grid)}, return_type="dataframe")[0]
        pred = fit.get_prediction(new).summary_frame(alpha=0.05)
    except (np.linalg.LinAlgError, ValueError, patsy.PatsyError):
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "predicted": grid,
            "observed": pred["mean"].to_numpy(),
            "observed_lo": pred["mean_ci_lower"].to_numpy(),
            "observed_hi": pred["mean_ci_upper"].to_numpy(),
        }
    )


def decision_curve(y_true, y_score, thresholds=None) -> pd.DataFrame:
    """Net benefit of the model, treat-all and treat-none over threshold probabilities (Vickers 2006).

    NB = TP/n − FP/n · pt/(1−pt). Hand-computed (vectorised with searchsorted) because the formula is one
    line and ``dcurves`` would add pandas-version constraints for no extra accuracy.
    """
    y, p = _as_binary(y_true, y_score)
    pts = np.round(np.arange(0.01, 1.0, 0.01), 2) if thresholds is None else np.asarray(thresholds, float)
    n = len(y)
    pos = np.sort(p[y == 1])
    neg = np.sort(p[y == 0])
    tp = len(pos) - np.searchsorted(pos, pts, side="left")
    fp = len(neg) - np.searchsorted(neg, pts, side="left")
    w = pts / (1 - pts)
    prev = y.mean() if n else np.nan
    return pd.DataFrame(
        {
            "threshold": pts,
            "net_benefit": tp / n - fp / n * w,
            "treat_all": prev - (1 - prev) * w,
            "treat_none": np.zeros_like(pts),
            "interventions_avoided_per_100": np.where(w > 0, (tp / n - fp / n * w - (prev - (1 - prev) * w)) / w * 100, np.nan),
        }
    )


# ---------------------------------------------------------------------------------------------
# Stratified bootstrap
# ---------------------------------------------------------------------------------------------
# Written out because scipy.stats.bootstrap resamples without strata (a resample can lose every
# event, leaving AUC undefined) and calls the statistic once per resample: at 10,000 patients and
# 1,000 resamples that is ~10 s for AUC alone. Here each resample is a vector of counts (how often
# each patient was drawn, stratified by outcome), and AUC, AP and Brier are computed for all
# resamples at once from counts per distinct positive score (see _segments). The point estimates match scikit-learn
# exactly (tests/test_metrics.py), the CIs are percentile intervals.


@dataclass(frozen=True)
class BootstrapCI:
    estimate: float | None
    lo: float | None
    hi: float | None
    resamples: int
    seed: int
    method: str = "stratified bootstrap, percentile 95% CI"

    def as_dict(self) -> dict:
        return {"estimate": self.estimate, "lo": self.lo, "hi": self.hi, "resamples": self.resamples, "seed": self.seed,
                "method": self.method}


def stratified_counts(strata: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) matrix: how many times each row is drawn, resampling within each stratum."""
    strata = np.asarray(strata)
    n = len(strata)
    counts = np.zeros((resamples, n), dtype=np.float32)
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        m = len(idx)
        draws = rng.integers(0, m, size=(resamples, m))
        flat = (np.arange(resamples)[:, None] * m + draws).ravel()
        counts[:, idx] = np.bincount(flat, minlength=resamples * m).reshape(resamples, m)
    return counts


def _segments(CT: np.ndarray, y: np.ndarray, score: np.ndarray):
    """Per resample (columns of ``CT``, shape (n, B)): positives at each distinct positive score (ascending),
    and negatives in the 2m+1 slots around those m scores (slot 2g: strictly between score g-1 and g;
    slot 2g+1: equal to score g). Two sparse products of (≤ n nonzeros) x (n, B): linear in n·B, and
    the dense work is on m+1 rows only."""
    from scipy import sparse

    pos = y == 1
    up, gp = np.unique(score[pos], return_inverse=True)
    m = len(up)
    neg_idx = np.flatnonzero(~pos)
    sn = score[neg_idx]
    left = np.searchsorted(up, sn, side="left")
    equal = np.zeros(len(sn), dtype=bool)
    inside = left < m
    equal[inside] = up[left[inside]] == sn[inside]
    slot = 2 * left + equal
    n = len(y)
    sp = sparse.csr_matrix((np.ones(pos.sum(), np.float32), (gp, np.flatnonzero(pos))), shape=(m, n))
    sn_ = sparse.csr_matrix((np.ones(len(neg_idx), np.float32), (slot, neg_idx)), shape=(2 * m + 1, n))
    return np.asarray(sp @ CT, dtype=np.float64), np.asarray(sn_ @ CT, dtype=np.float64)  # exact integer counts


def _auc_ct(CT: np.ndarray, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    P, N = _segments(CT, y, score)
    cum = np.cumsum(N, axis=0)
    below = cum[0::2][: P.shape[0]]  # slots 0..2g: strictly below positive score g
    within = N[1::2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (P * (below + 0.5 * within)).sum(axis=0) / (P.sum(axis=0) * N.sum(axis=0))


def _ap_ct(CT: np.ndarray, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    P, N = _segments(CT, y, score)
    below = np.cumsum(N, axis=0)[0::2][: P.shape[0]]
    fp = N.sum(axis=0) - below  # negatives scored >= positive score g
    tp = np.cumsum(P[::-1], axis=0)[::-1]  # positives scored >= g
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        return (P * prec).sum(axis=0) / P.sum(axis=0)


def weighted_auc(counts: np.ndarray, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AUC (Mann–Whitney, ties count 1/2) for each row of ``counts`` (resamples x patients)."""
    return _auc_ct(np.ascontiguousarray(counts.T), np.asarray(y), np.asarray(score))


def weighted_ap(counts: np.ndarray, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's step definition) for each row of ``counts``."""
    return _ap_ct(np.ascontiguousarray(counts.T), np.asarray(y), np.asarray(score))


def weighted_brier(counts: np.ndarray, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    err = (y - score) ** 2
    return counts @ err / counts.sum(axis=1)


def bootstrap_binary(
    y_true,
    y_score,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    batch: int = 250,
) -> dict[str, BootstrapCI]:
    """AUC, average precision and Brier score with stratified-bootstrap 95% CIs (resampling patients)."""
    y, p = _as_binary(y_true, y_score)
    rng = np.random.default_rng(seed)
    both = len(np.unique(y)) == 2
    est = {"auc": auc(y, p), "average_precision": average_precision(y, p), "brier": brier(y, p) if len(y) else None}
    stats: dict[str, list[np.ndarray]] = {k: [] for k in est}
    if len(y) and both:
        done = 0
        while done < resamples:
            b = min(batch, resamples - done)
            counts = stratified_counts(y, b, rng)
            CT = np.ascontiguousarray(counts.T)
            stats["auc"].append(_auc_ct(CT, y, p))
            stats["average_precision"].append(_ap_ct(CT, y, p))
            stats["brier"].append(weighted_brier(counts, y, p))
            done += b
    out = {}
    for k, e in est.items():
        if stats[k]:
            arr = np.concatenate(stats[k])
            lo, hi = np.nanpercentile(arr, [2.5, 97.5])
            out[k] = BootstrapCI(e, float(lo), float(hi), resamples, seed)
        else:
            why = "not computed" if resamples <= 0 else "not estimable (needs both outcome classes)"
            out[k] = BootstrapCI(e, None, None, 0, seed, why)
    return out


def bootstrap_macro_auc(
    y_true, probs: np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, batch: int = 250
) -> BootstrapCI:
    """One-vs-rest macro AUC over the classes present, stratified by true class, percentile 95% CI."""
    y = np.asarray(y_true)
    present = np.unique(y)
    if probs.shape[1] > 2 and len(present) >= 2:
        ones = np.ones((len(y), 1), np.float32)
        est = float(np.mean([_auc_ct(ones, (y == c).astype(int), probs[:, c])[0] for c in present]))
    else:
        est = macro_ovr_auc(y, probs)
    if est is None or len(present) < 2:
        return BootstrapCI(est, None, None, 0, seed, "not estimable (needs two classes)")
    rng = np.random.default_rng(seed)
    vals = []
    done = 0
    while done < resamples:
        b = min(batch, resamples - done)
        CT = np.ascontiguousarray(stratified_counts(y, b, rng).T)
        per = [_auc_ct(CT, (y == c).astype(int), probs[:, c]) for c in present]
        vals.append(np.nanmean(np.vstack(per), axis=0) if probs.shape[1] > 2 else per[-1])
        done += b
    lo, hi = np.nanpercentile(np.concatenate(vals), [2.5, 97.5])
    return BootstrapCI(est, float(lo), float(hi), resamples, seed)


# ---------------------------------------------------------------------------------------------
# Multiclass tables
# ---------------------------------------------------------------------------------------------


def per_class_table(y_true, probs: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """One row per diagnosis: support, one-vs-rest AUC, sensitivity and PPV of the top-1 call, with Wilson CIs."""
    y = np.asarray(y_true)
    pred = probs.argmax(axis=1)
    rows = []
    for c, lab in enumerate(labels):
        is_c = y == c
        support = int(is_c.sum())
        called = int((pred == c).sum())
        tp = int((is_c & (pred == c)).sum())
        # same value as roc_auc_score (tests), without its per-call validation overhead (22 classes x 10k rows)
        ovr = float(_auc_ct(np.ones((len(y), 1), np.float32), is_c.astype(int), probs[:, c])[0]) if 0 < support < len(y) else None
        s_lo, s_hi = wilson_ci(tp, support)
        p_lo, p_hi = wilson_ci(tp, called)
        rows.append(
            {
                "label": lab,
                "support": support,
                "predicted": called,
                "auc": ovr,
                "sensitivity": _ratio(tp, support),
                "sensitivity_lo": s_lo,
                "sensitivity_hi": s_hi,
                "ppv": _ratio(tp, called),
                "ppv_lo": p_lo,
                "ppv_hi": p_hi,
            }
        )
    return pd.DataFrame(rows)


def confusion_table(y_true, probs: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """Counts: rows = true diagnosis, columns = top-1 prediction."""
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(np.asarray(y_true), probs.argmax(axis=1), labels=np.arange(len(labels)))
    return pd.DataFrame(cm, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))


def most_confused_pairs(confusion: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` largest off-diagonal cells of a confusion table (rows true, columns top-1 prediction),
    for label sets too wide for a grid: columns ``true``, ``predicted``, ``count``, ``share_of_true``
    (count / cases of that true diagnosis). Ties broken by label order."""
    m = confusion.to_numpy().copy()
    np.fill_diagonal(m, 0)
    flat = np.flatnonzero(m)
    if not flat.size:
        return pd.DataFrame(columns=["true", "predicted", "count", "share_of_true"])
    order = flat[np.argsort(-m.ravel()[flat], kind="stable")][:n]
    r, c = np.unravel_index(order, m.shape)
    support = confusion.to_numpy().sum(axis=1)
    return pd.DataFrame({
        "true": confusion.index[r].astype(str), "predicted": confusion.columns[c].astype(str),
        "count": m[r, c].astype(int), "share_of_true": m[r, c] / np.maximum(support[r], 1),
    })


def top_label_reliability(y_true, probs: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Top-label reliability: per confidence bin, mean confidence vs accuracy (Wilson CI) and count."""
    y = np.asarray(y_true)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(int)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        if not n:
            continue
        k = int(correct[sel].sum())
        lo, hi = wilson_ci(k, n)
        rows.append({"bin_lo": edges[b], "bin_hi": edges[b + 1], "n": n, "confidence": float(conf[sel].mean()),
                     "accuracy": k / n, "accuracy_lo": lo, "accuracy_hi": hi})
    return pd.DataFrame(rows, columns=["bin_lo", "bin_hi", "n", "confidence", "accuracy", "accuracy_lo", "accuracy_hi"])


def top_k_hits(y_true, probs: np.ndarray, k: int) -> int:
    y = np.asarray(y_true)
    k = min(k, probs.shape[1])
    topk = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    return int((topk == y[:, None]).any(axis=1).sum())
