"""Live performance from recorded outcomes, beside the bundle's held-out test figures.

Text models: top-1 and top-3 accuracy of the saved predictions against the confirmed diagnosis, with
Wilson 95% intervals, per period and overall. Tabular models: AUC (bootstrap 95% CI) and calibration
(observed/expected events with an exact Poisson CI, Brier score), per period and overall.

An alert fires when live performance is *clearly* below the test figure: at least ``MIN_N`` outcomes
and the upper end of the live 95% interval below the test value (for tabular calibration: the O/E
interval excludes 1). Fewer outcomes produce a note, not an alert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from medviz.store.cases import CaseSummary

MIN_N = 20
TEXT_METRICS = ("top1_accuracy", "top3_accuracy")
_LABELS = {"top1_accuracy": "top-1 accuracy", "top3_accuracy": "top-3 accuracy"}
_TAB_AUC_KEYS = ("auc", "roc_auc", "auc_roc")
_TAB_BRIER_KEYS = ("brier", "brier_score")


@dataclass(frozen=True)
class MonitoringReport:
    task: str
    n: int
    periods: pd.DataFrame  # one row per period: period, n, <metric>, <metric>_lo, <metric>_hi, ...
    overall: dict[str, Any]  # metric -> value, and <metric>_lo/_hi
    reference: dict[str, float]  # the bundle's test figures for the same metrics
    reference_split: str | None
    alerts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def wilson(k: int, n: int) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def reference_figures(manifest: Mapping[str, Any], task: str) -> tuple[dict[str, float], str | None]:
    """The bundle's held-out figures: text from test_deduplicated (else test); tabular from test."""
    metrics = manifest.get("metrics") or {}
    splits = ("test_deduplicated", "test") if task == "text_classification" else ("test",)
    for split in splits:
        m = metrics.get(split)
        if not isinstance(m, Mapping):
            continue
        ref: dict[str, float] = {}
        if task == "text_classification":
            ref = {k: float(m[k]) for k in TEXT_METRICS if m.get(k) is not None}
        else:
            for name, keys in (("auc", _TAB_AUC_KEYS), ("brier", _TAB_BRIER_KEYS)):
                for k in keys:
                    v = m.get(k)
                    if isinstance(v, Mapping):  # {"value": .., "lo": .., "hi": ..}
                        v = v.get("value", v.get("estimate"))
                    if isinstance(v, (int, float)):
                        ref[name] = float(v)
                        break
        if ref:
            return ref, split
    return {}, None


def _text_rows(cases: Sequence[CaseSummary]) -> pd.DataFrame:
    rows = []
    for c in cases:
        probs = c.prediction.get("probabilities") or {}
        if not probs or c.outcome is None:
            continue
        ranked = sorted(probs, key=probs.get, reverse=True)
        y = c.outcome.confirmed
        rows.append({
            "created_at": c.created_at, "top1": ranked[0] == y, "top3": y in ranked[:3], "in_labels": y in probs,
        })
    return pd.DataFrame(rows, columns=["created_at", "top1", "top3", "in_labels"])


def _period_index(ts: pd.Series, freq: str) -> pd.Series:
    t = pd.to_datetime(ts, utc=True).dt.tz_localize(None)
    return t.dt.to_period(freq).dt.start_time


def text_report(cases: Sequence[CaseSummary], manifest: Mapping[str, Any], freq: str = "W") -> MonitoringReport:
    df = _text_rows(cases)
    ref, split = reference_figures(manifest, "text_classification")
    cols = ["period", "n"] + [f"{m}{s}" for m in TEXT_METRICS for s in ("", "_lo", "_hi")]
    periods = []
    if len(df):
        df["period"] = _period_index(df["created_at"], freq)
        for period, g in df.groupby("period", sort=True):
            row = {"period": period, "n": len(g)}
            for m, col in zip(TEXT_METRICS, ("top1", "top3")):
                k = int(g[col].sum())
                lo, hi = wilson(k, len(g))
                row.update({m: k / len(g), f"{m}_lo": lo, f"{m}_hi": hi})
            periods.append(row)
    overall: dict[str, Any] = {"n": len(df)}
    alerts, notes = [], []
    for m, col in zip(TEXT_METRICS, ("top1", "top3")):
        if len(df):
            k = int(df[col].sum())
            lo, hi = wilson(k, len(df))
            overall.update({m: k / len(df), f"{m}_lo": lo, f"{m}_hi": hi})
            if m in ref and len(df) >= MIN_N and hi < ref[m]:
                alerts.append(
                    f"Live {_LABELS[m]} is {k / len(df):.1%} (95% CI {lo:.1%}–{hi:.1%}, n={len(df)}), "
                    f"clearly below the test figure {ref[m]:.1%}."
                )
    if len(df) and not df["in_labels"].all():
        notes.append(
            f"{int((~df['in_labels']).sum())} confirmed diagnosis(es) are outside the model's label set "
            "(counted as misses: the model cannot name them)."
        )
    if len(df) < MIN_N:
        notes.append(f"Only {len(df)} case(s) with a recorded outcome: at least {MIN_N} are needed before an alert can fire.")
    return MonitoringReport("text_classification", len(df), pd.DataFrame(periods, columns=cols), overall, ref, split, alerts, notes)


def _auc_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """AUC of each row of (resamples, n) arrays via the Mann-Whitney rank sum (ties get mid-ranks).

    Hand-written because scikit-learn's roc_auc_score scores one sample per call: 1000 calls take
    seconds, this takes milliseconds. Rows with a single class give NaN.
    """
    ranks = stats.rankdata(p, axis=-1)
    n1 = y.sum(axis=-1)
    n0 = y.shape[-1] - n1
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = ((ranks * y).sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return np.where((n1 > 0) & (n0 > 0), auc, np.nan)


def _auc_ci(y: np.ndarray, p: np.ndarray, seed: int = 0, n_resamples: int = 1000) -> tuple[float | None, float | None, float | None]:
    """AUC with a 95% percentile bootstrap over patients (seeded). Resamples that happen to hold one class
    have no AUC and are dropped (scipy.stats.bootstrap would turn the whole interval into NaN)."""
    if len(np.unique(y)) < 2:
        return None, None, None
    y = y.astype(float)
    auc = float(_auc_rows(y[None, :], p[None, :])[0])
    idx = np.random.default_rng(seed).integers(0, len(y), size=(n_resamples, len(y)))
    boot = _auc_rows(y[idx], p[idx])
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return auc, float(lo), float(hi)


def _oe_ci(y: np.ndarray, p: np.ndarray) -> tuple[float | None, float | None, float | None]:
    expected = float(p.sum())
    if expected <= 0:
        return None, None, None
    observed = int(y.sum())
    # Exact (Garwood) Poisson interval for the observed count, divided by the expected count.
    lo = stats.chi2.ppf(0.025, 2 * observed) / 2 if observed > 0 else 0.0
    hi = stats.chi2.ppf(0.975, 2 * (observed + 1)) / 2
    return observed / expected, float(lo) / expected, float(hi) / expected


def tabular_report(
    cases: Sequence[CaseSummary], manifest: Mapping[str, Any], freq: str = "M", positive_label: str | None = None
) -> MonitoringReport:
    labels = list(manifest.get("labels") or [])
    positive = positive_label or (labels[1] if len(labels) == 2 else "1")
    rows = [
        {"created_at": c.created_at, "y": int(c.outcome.confirmed == positive), "p": float(c.risk)}
        for c in cases if c.outcome is not None and c.risk is not None
    ]
    df = pd.DataFrame(rows, columns=["created_at", "y", "p"])
    ref, split = reference_figures(manifest, "tabular_binary")
    cols = ["period", "n", "events", "auc", "auc_lo", "auc_hi", "oe", "oe_lo", "oe_hi", "brier"]
    periods = []
    if len(df):
        df["period"] = _period_index(df["created_at"], freq)
        for period, g in df.groupby("period", sort=True):
            y, p = g["y"].to_numpy(), g["p"].to_numpy()
            auc, alo, ahi = _auc_ci(y, p) if len(g) >= 10 else (None, None, None)
            oe, olo, ohi = _oe_ci(y, p)
            periods.append({
                "period": period, "n": len(g), "events": int(y.sum()), "auc": auc, "auc_lo": alo, "auc_hi": ahi,
                "oe": oe, "oe_lo": olo, "oe_hi": ohi, "brier": float(np.mean((p - y) ** 2)),
            })
    overall: dict[str, Any] = {"n": len(df)}
    alerts, notes = [], []
    if len(df):
        y, p = df["y"].to_numpy(), df["p"].to_numpy()
        auc, alo, ahi = _auc_ci(y, p)
        oe, olo, ohi = _oe_ci(y, p)
        overall.update({
            "events": int(y.sum()), "auc": auc, "auc_lo": alo, "auc_hi": ahi, "oe": oe, "oe_lo": olo, "oe_hi": ohi,
            "brier": float(np.mean((p - y) ** 2)), "mean_risk": float(p.mean()), "observed_rate": float(y.mean()),
        })
        if len(df) >= MIN_N:
            if auc is not None and "auc" in ref and ahi is not None and ahi < ref["auc"]:
                alerts.append(
                    f"Live AUC is {auc:.3f} (95% CI {alo:.3f}–{ahi:.3f}, n={len(df)}), clearly below the test AUC {ref['auc']:.3f}."
                )
            if oe is not None and (ohi < 1.0 or olo > 1.0):
                direction = "over-estimates" if ohi < 1.0 else "under-estimates"
                alerts.append(
                    f"Calibration: observed/expected events = {oe:.2f} (95% CI {olo:.2f}–{ohi:.2f}); the model "
                    f"{direction} risk in recent patients."
                )
        if auc is None:
            notes.append("AUC needs outcomes of both kinds (with and without the event).")
    if len(df) < MIN_N:
        notes.append(f"Only {len(df)} case(s) with a recorded outcome: at least {MIN_N} are needed before an alert can fire.")
    return MonitoringReport("tabular_binary", len(df), pd.DataFrame(periods, columns=cols), overall, ref, split, alerts, notes)


def report(cases: Sequence[CaseSummary], manifest: Mapping[str, Any], freq: str = "W") -> MonitoringReport:
    if manifest.get("task") == "tabular_binary":
        return tabular_report(cases, manifest, freq=freq)
    return text_report(cases, manifest, freq=freq)
