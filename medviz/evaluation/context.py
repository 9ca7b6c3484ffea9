"""Small look-ups for the Case page: a diagnosis' test sensitivity/PPV, where a risk sits on the test calibration curve."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from medviz import metrics as M
from medviz.bundle import TEST_PREDICTIONS_FILE, ModelBundle
from medviz.errors import InputError, UnsupportedBundleError
from medviz.evaluation.internal import _prob_columns, evaluate_bundle_test
from medviz.evaluation.labels import labels_to_index
from medviz.evaluation.results import BinaryEvaluation
from medviz.i18n import N_, Message


# ------------------------------------------------------------------------------------------------
# Context for one prediction (Case page)
# ------------------------------------------------------------------------------------------------


def diagnosis_context(bundle: ModelBundle, label: str) -> dict[str, Any]:
    """How the model did on test for this diagnosis as its top-1 call: sensitivity and PPV (Wilson CIs)."""
    tp = bundle.test_predictions
    if tp is None or not bundle.is_text:
        raise UnsupportedBundleError(f"bundle '{bundle.name}' has no multiclass test predictions")
    if label not in bundle.labels:
        raise InputError(f"diagnosis '{label}' is not one the model knows")
    y = labels_to_index(tp["y_true"], bundle.labels)
    probs = _prob_columns(bundle, tp, TEST_PREDICTIONS_FILE)
    c = bundle.labels.index(label)
    row = M.per_class_table(y, probs, bundle.labels).iloc[c].to_dict()
    row["n_test"] = int(len(y))
    row["text"] = _diagnosis_sentence(row)
    return row


def _pct(v: float | None) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def _diagnosis_sentence(r: Mapping[str, Any]) -> Message:
    """The sentence as a :class:`medviz.i18n.Message` (English; the page shows it translated). ``label`` is
    the bundle's label: a page may pass ``label=`` its display name when it renders it."""
    if not r["support"]:
        return Message(N_("'{label}' did not occur in the test set: its accuracy is untested."), label=r["label"])
    return Message(
        N_("On {n} test cases, the model named '{label}' first for {sensitivity} of the {support} true cases "
           "(sensitivity, 95% CI {sensitivity_lo}–{sensitivity_hi}); when it named it first, it was right {ppv} of "
           "the time (PPV, {calls} calls, CI {ppv_lo}–{ppv_hi})."),
        n=r["n_test"], label=r["label"], sensitivity=_pct(r["sensitivity"]), support=r["support"],
        sensitivity_lo=_pct(r["sensitivity_lo"]), sensitivity_hi=_pct(r["sensitivity_hi"]), ppv=_pct(r["ppv"]),
        calls=r["predicted"], ppv_lo=_pct(r["ppv_lo"]), ppv_hi=_pct(r["ppv_hi"]),
    )


def risk_context(bundle: ModelBundle, risk: float, evaluation: BinaryEvaluation | None = None) -> dict[str, Any]:
    """Where a risk sits on the test calibration curve, and among test patients.

    Returns the observed event rate the smoothed curve gives at this risk (with CI), the observed rate
    in the test risk group containing it, and the share of test patients with a lower risk.
    """
    if not bundle.is_tabular:
        raise UnsupportedBundleError(f"bundle '{bundle.name}' does not predict a risk")
    ev = evaluation if evaluation is not None else evaluate_bundle_test(bundle, resamples=0)
    risk = float(risk)
    out: dict[str, Any] = {"risk": risk, "percentile": float((ev.risk < risk).mean()), "n_test": ev.cohort.n}
    sm = ev.calibration_smooth
    if len(sm) and sm["predicted"].min() <= risk <= sm["predicted"].max():
        out["observed"] = float(np.interp(risk, sm["predicted"], sm["observed"]))
        out["observed_lo"] = float(np.interp(risk, sm["predicted"], sm["observed_lo"]))
        out["observed_hi"] = float(np.interp(risk, sm["predicted"], sm["observed_hi"]))
        out["in_range"] = True
    else:
        out["in_range"] = False
    bins = ev.calibration_bins
    if len(bins):
        b = bins.iloc[int(np.argmin(np.abs(bins["mean_predicted"].to_numpy() - risk)))]
        out["group"] = {k: (float(v) if isinstance(v, (float, np.floating)) else int(v)) for k, v in b.items()}
    if out["in_range"]:
        out["text"] = Message(
            N_("Among test patients given a risk near {risk:.0%}, about {observed:.0%} had the outcome (95% CI "
               "{observed_lo:.0%}–{observed_hi:.0%}); {percentile:.0%} of test patients had a lower risk."),
            risk=risk, observed=out["observed"], observed_lo=out["observed_lo"], observed_hi=out["observed_hi"],
            percentile=out["percentile"])
    else:
        out["text"] = Message(
            N_("A risk of {risk:.0%} lies outside the range seen in the test set, where calibration was not checked."),
            risk=risk)
    return out
