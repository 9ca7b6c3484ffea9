"""The Evaluation page: cohort summary, multiclass and binary sections side by side (test set | your data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from medviz import metrics as M
from medviz.bundle import ModelBundle
from medviz.charts import evaluation as C
from medviz.errors import MedvizError
from medviz.i18n import _, format_number, format_probability
from medviz.ui.evaluation_views.cached import bundle_digest, test_eval_for, test_one_vs_rest
from medviz.ui.evaluation_views.common import DEDUP_KEY, DIAGNOSIS_KEY, PLOT_CONFIG, THRESHOLD_KEY, _boot_caption, _ci_txt, _columns, md, pct_estimate, pct_range
from medviz.ui.evaluation_views.external import _external_section
from medviz.ui.evaluation_views.subgroups import _shift_section, _subgroup_section


# ------------------------------------------------------------------------------------------------
# Evaluation page
# ------------------------------------------------------------------------------------------------


def render_evaluation_page(bundle: ModelBundle) -> None:
    if bundle.test_predictions is None:
        st.warning(_("'{name}' has no held-out test predictions: its performance is untested. "
                     "You can still validate it on your own labelled data below.").format(name=md(bundle.name)))
    dedup = False
    if bundle.is_text and bundle.test_predictions is not None and "near_duplicate" in bundle.test_predictions.columns:
        dedup = st.toggle(_("Leave out test texts that are near-duplicates of training texts"), key=DEDUP_KEY,
                          help=_("About 9% of the public test texts nearly repeat a training text; without them the "
                                 "figures are a fairer guess of performance on new wording."))
    internal = None
    if bundle.test_predictions is not None:
        try:
            internal = test_eval_for(bundle, dedup)
        except MedvizError as exc:
            st.error(_("The bundle's test predictions cannot be evaluated: {error}").format(error=md(exc)))
    external = _external_section(bundle)
    cohorts = [(_("Test set"), internal, "test")] if internal is not None else []
    if external is not None:
        cohorts.append((_("Your data (external)"), external.evaluation, "external"))
    if not cohorts:
        return
    st.divider()
    _cohort_summary(cohorts)
    if bundle.is_text:
        _multiclass_sections(bundle, cohorts, dedup)
    else:
        _binary_sections(bundle, cohorts, bundle.manifest.get("positive_label") or bundle.labels[-1])
    _subgroup_section(bundle, cohorts, external, dedup)
    if external is not None:
        _shift_section(external)


def _cohort_summary(cohorts) -> None:
    st.subheader(_("Who these figures are about"))
    for col, (title, ev, _key) in zip(_columns(len(cohorts)), cohorts):
        with col:
            c = ev.cohort
            st.markdown(f"**{md(title)}** — {md(c.source)}")
            if c.description:
                st.caption(md(c.description))
            a, b, d = st.columns(3)
            a.metric(_("Patients"), format_number(c.n))
            if c.events is not None:
                b.metric(_("Events"), format_number(c.events))
                d.metric(_("Prevalence"), format_probability(c.prevalence, 1))
            else:
                b.metric(_("Diagnoses present"), int(len(np.unique(ev.y))))
            for reason, k in (c.excluded or {}).items():
                st.caption(_("Left out: {n} row(s) — {reason}").format(n=format_number(k), reason=md(reason)))


# --- multiclass -----------------------------------------------------------------------------------


def _multiclass_sections(bundle: ModelBundle, cohorts, dedup: bool) -> None:
    st.subheader(_("Overall: ranked differential"))
    for col, (title, ev, _key) in zip(_columns(len(cohorts)), cohorts):
        with col:
            a, b, c = st.columns(3)
            a.metric(_("Top-1 accuracy"), format_probability(ev.top1, 1), help=_("The true diagnosis is ranked first."))
            a.caption(_ci_range(format_probability(ev.top1_ci[0], 1), format_probability(ev.top1_ci[1], 1)))
            b.metric(_("Top-3 accuracy"), format_probability(ev.top3, 1), help=_("The true diagnosis is among the first three."))
            b.caption(_ci_range(format_probability(ev.top3_ci[0], 1), format_probability(ev.top3_ci[1], 1)))
            m = ev.macro_auc
            c.metric(_("Macro AUC (one-vs-rest)"), "–" if m.estimate is None else f"{m.estimate:.3f}")
            if m.lo is not None:
                c.caption(_ci_range(f"{m.lo:.3f}", f"{m.hi:.3f}"))
            _boot_caption(ev)
    st.subheader(_("Per diagnosis"))
    for col, (title, ev, key) in zip(_columns(len(cohorts)), cohorts):
        with col:
            st.markdown(f"**{md(title)}**")
            if len(bundle.labels) > WIDE_LABELS:
                _wide_per_class(ev.per_class, key)
                continue
            st.dataframe(_per_class_display(ev.per_class), hide_index=True, width="stretch", height=320)
            st.plotly_chart(C.per_class_chart(ev.per_class), width="stretch", config=PLOT_CONFIG, key=f"evaluation_pc_{key}")
    st.caption(_("Sensitivity: share of true cases the model ranks first. PPV: share of its first-ranked calls that "
                 "are right. Support: true cases in the cohort."))
    st.subheader(_("Confusions and reliability"))
    for col, (title, ev, key) in zip(_columns(len(cohorts)), cohorts):
        with col:
            if len(bundle.labels) > WIDE_LABELS:
                _most_confused(ev.confusion_matrix, title)
            else:
                st.plotly_chart(C.multiclass_heatmap(ev.confusion_matrix, title=_("{cohort}: true vs top-1 diagnosis").format(cohort=title)),
                                width="stretch", config=PLOT_CONFIG, key=f"evaluation_cm_{key}")
            st.plotly_chart(C.reliability_chart(ev.reliability, ece=ev.ece, title=_("{cohort}: reliability of the top diagnosis").format(cohort=title)),
                            width="stretch", config=PLOT_CONFIG, key=f"evaluation_rel_{key}")
    st.subheader(_("One diagnosis in detail (one-vs-rest)"))
    label = st.selectbox(_("Diagnosis"), bundle.labels, key=DIAGNOSIS_KEY)
    binaries = []
    for title, ev, key in cohorts:
        try:
            b = (test_one_vs_rest(str(bundle.path), bundle_digest(bundle), label, dedup) if key == "test"
                 else ev.one_vs_rest(label))
        except MedvizError as exc:
            st.warning(md(exc))
            continue
        binaries.append((title, b, key))
    if binaries:
        _binary_sections(bundle, binaries, label, headline=True)


def _ci_range(lo: str, hi: str) -> str:
    return _("95% CI {lo}–{hi}").format(lo=lo, hi=hi)


WIDE_LABELS = 30  # above this many diagnoses: searchable tables and most-confused pairs instead of grids (issue 15)


def _wide_per_class(pc: pd.DataFrame, key: str) -> None:
    """Per-diagnosis table for hundreds of labels: numeric (sortable by clicking a header) and searchable."""
    query = st.text_input(_("Find a diagnosis"), key=f"evaluation_pc_search_{key}", placeholder=_("e.g. embolism"))
    diagnosis, sensitivity, ppv = _("Diagnosis"), _("Sensitivity"), _("PPV")
    table = pd.DataFrame({
        diagnosis: pc["label"], _("Support"): pc["support"], "AUC": pc["auc"].astype(float),
        sensitivity: pc["sensitivity"].astype(float), _("Sensitivity 95% CI"): [
            "–" if pd.isna(e) else pct_range(lo, hi) for e, lo, hi in zip(pc["sensitivity"], pc["sensitivity_lo"], pc["sensitivity_hi"])],
        ppv: pc["ppv"].astype(float), _("PPV 95% CI"): [
            "–" if pd.isna(e) else pct_range(lo, hi) for e, lo, hi in zip(pc["ppv"], pc["ppv_lo"], pc["ppv_hi"])],
    })
    if query.strip():
        table = table[table[diagnosis].astype(str).str.contains(query.strip(), case=False, regex=False)]
    st.dataframe(table, hide_index=True, width="stretch", height=360, column_config={
        "AUC": st.column_config.NumberColumn(format="%.3f"),
        sensitivity: st.column_config.NumberColumn(format="percent"),
        ppv: st.column_config.NumberColumn(format="percent"),
    })
    st.caption(_("{shown} of {n} diagnoses shown; click a column header to sort.").format(shown=len(table), n=len(pc)))


def _most_confused(confusion: pd.DataFrame, title: str, n: int = 20) -> None:
    """The most frequent (true, top-1) mistakes: an 801 x 801 grid cannot be read."""
    pairs = M.most_confused_pairs(confusion, n)
    st.markdown(_("**{cohort}: the {n} most frequent confusions** (true diagnosis → top-1 prediction)").format(
        cohort=md(title), n=len(pairs)))
    share = _("Share of its cases")
    st.dataframe(pairs.rename(columns={"true": _("True diagnosis"), "predicted": _("Ranked first instead"),
                                       "count": _("Cases"), "share_of_true": share}),
                 hide_index=True, width="stretch",
                 column_config={share: st.column_config.NumberColumn(format="percent")})


def _per_class_display(pc: pd.DataFrame) -> pd.DataFrame:
    def ci(e, lo, hi):
        return pct_estimate(e, lo, hi)

    return pd.DataFrame({
        _("Diagnosis"): pc["label"], _("Support"): pc["support"],
        "AUC": pc["auc"].map(lambda v: "–" if v is None or pd.isna(v) else f"{v:.3f}"),
        _("Sensitivity (95% CI)"): [ci(*r) for r in zip(pc["sensitivity"], pc["sensitivity_lo"], pc["sensitivity_hi"])],
        _("PPV (95% CI)"): [ci(*r) for r in zip(pc["ppv"], pc["ppv_lo"], pc["ppv_hi"])],
    })


# --- binary ---------------------------------------------------------------------------------------


def _binary_sections(bundle: ModelBundle, cohorts, positive: str, headline: bool = True) -> None:
    n = len(cohorts)
    if headline:
        for col, (title, ev, _key) in zip(_columns(n), cohorts):
            with col:
                r = ev.recalibration
                a, b, c = st.columns(3)
                a.metric(_("AUC"), "–" if ev.auc.estimate is None else f"{ev.auc.estimate:.3f}")
                a.caption(_ci_txt(ev.auc.estimate, ev.auc.lo, ev.auc.hi))
                b.metric(_("Calibration slope"), "–" if r.slope is None else f"{r.slope:.2f}",
                         help=_("Ideal 1. Below 1: risks too extreme."))
                b.caption(_ci_txt(r.slope, r.slope_lo, r.slope_hi) + " · " + _("ideal 1"))
                c.metric(_("Calibration intercept"), "–" if r.intercept is None else f"{r.intercept:.2f}",
                         help=_("Calibration-in-the-large, ideal 0. Above 0: risks too low on average."))
                c.caption(_ci_txt(r.intercept, r.intercept_lo, r.intercept_hi) + " · " + _("ideal 0"))
                d, e, f = st.columns(3)
                d.metric(_("Brier score"), "–" if ev.brier.estimate is None else f"{ev.brier.estimate:.3f}",
                         help=_("Lower is better."))
                d.caption(_ci_txt(ev.brier.estimate, ev.brier.lo, ev.brier.hi))
                e.metric(_("Average precision"),
                         "–" if ev.average_precision.estimate is None else f"{ev.average_precision.estimate:.3f}")
                e.caption(_ci_txt(ev.average_precision.estimate, ev.average_precision.lo, ev.average_precision.hi))
                f.metric(_("Calibration error (ECE)"), f"{ev.ece:.3f}", help=_("Mean |observed − predicted| over 10 risk bins."))
                if r.note:
                    st.caption(md(r.note))
                _boot_caption(ev)
    st.markdown(_("**Discrimination**"))
    for col, (title, ev, key) in zip(_columns(n), cohorts):
        with col:
            left, right = st.columns(2) if n == 1 else (st.container(), st.container())
            left.plotly_chart(C.roc_chart(ev.roc, ev.auc.estimate, ev.auc.lo, ev.auc.hi, title=_("{cohort}: ROC — {positive}").format(cohort=title, positive=positive)),
                              width="stretch", config=PLOT_CONFIG, key=f"evaluation_roc_{key}")
            right.plotly_chart(C.pr_chart(ev.pr, ev.average_precision.estimate, ev.average_precision.lo, ev.average_precision.hi,
                                       ev.cohort.prevalence, title=_("{cohort}: precision–recall").format(cohort=title)),
                            width="stretch", config=PLOT_CONFIG, key=f"evaluation_pr_{key}")
    st.markdown(_("**Calibration** — do predicted risks match what happened?"))
    for col, (title, ev, key) in zip(_columns(n), cohorts):
        with col:
            st.plotly_chart(C.calibration_chart(ev.calibration_bins, ev.calibration_smooth, ev.risk, title=_("{cohort}: calibration").format(cohort=title)),
                            width="stretch", config=PLOT_CONFIG, key=f"evaluation_cal_{key}")
    st.caption(_("Line: logistic regression on a spline of the predicted risk, with its 95% CI; dots: observed share in "
                 "ten equal-size risk groups (Wilson CIs); bars: how many patients got each predicted risk."))
    st.markdown(_("**Decision curve** — is acting on the model better than treating everyone or no one?"))
    thr_default = float(cohorts[0][1].threshold)
    thr = st.slider(_("Threshold probability (risk at or above it = 'positive')"), 0.01, 0.99, value=thr_default, step=0.01,
                    key=f"{THRESHOLD_KEY}_{positive}", help=md(cohorts[0][1].threshold_source))
    for col, (title, ev, key) in zip(_columns(n), cohorts):
        with col:
            st.plotly_chart(C.decision_curve_chart(ev.decision, title=_("{cohort}: net benefit").format(cohort=title), threshold=thr,
                                                   max_threshold=max(0.6, min(0.99, thr + 0.1))),
                            width="stretch", config=PLOT_CONFIG, key=f"evaluation_dc_{key}")
    st.caption(_("Net benefit = true positives/n − false positives/n × pt/(1−pt). Where the model's line is above both "
                 "others, using it does more good than harm at that threshold."))
    st.markdown(_("**At threshold {threshold}** ({source})").format(threshold=f"{thr:.2f}",
                                                                  source=md(cohorts[0][1].threshold_source)))
    for col, (title, ev, key) in zip(_columns(n), cohorts):
        with col:
            cm = ev.confusion(thr)
            left, right = st.columns(2) if n == 1 else (st.container(), st.container())
            left.plotly_chart(C.confusion_chart(cm, positive=positive, title=_("{cohort}: confusion matrix at {threshold}").format(cohort=title, threshold=f"{thr:.2f}")),
                              width="stretch", config=PLOT_CONFIG, key=f"evaluation_cm2_{key}")
            right.dataframe(_threshold_table(cm), hide_index=True, width="stretch")
            right.caption(_("{flagged} of {n} patients ({share}) are at or above this threshold.").format(
                flagged=format_number(cm["tp"] + cm["fp"]), n=format_number(ev.cohort.n), share=format_probability(cm['flagged_share'], 0)))


def _threshold_table(cm: dict) -> pd.DataFrame:
    rows = []
    for k, name, meaning in (("sensitivity", _("Sensitivity"), _("of patients with the outcome, share flagged")),
                             ("specificity", _("Specificity"), _("of patients without it, share not flagged")),
                             ("ppv", _("PPV"), _("of flagged patients, share with the outcome")),
                             ("npv", _("NPV"), _("of unflagged patients, share without it"))):
        v = cm[k]
        rows.append({_("Measure"): name, _("Value"): "–" if v is None else format_probability(v, 1),
                     _("95% CI (Wilson)"): "–" if v is None else pct_range(cm[k + "_lo"], cm[k + "_hi"], 1),
                     _("Meaning"): meaning})
    return pd.DataFrame(rows)
