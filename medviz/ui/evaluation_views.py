"""Evaluation and model-card page sections.

Caching (CLINICAL.md S5): only the bundle's own held-out evaluation is cached (``st.cache_data`` keyed
on the bundle path and the SHA-256 of its test-predictions and model files) — that is the model
developer's test data, not a user's patients. An uploaded file and everything computed from it live
only in ``st.session_state`` (key ``evaluation_external``), never in a Streamlit cache.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import streamlit as st

from medviz import evaluation as E
from medviz import metrics as M
from medviz.bundle import TEST_PREDICTIONS_FILE, ModelBundle
from medviz.charts import evaluation as C
from medviz.errors import MedvizError
from medviz.ui import cache

UPLOAD_KEY = "evaluation_upload"
EXTERNAL_KEY = "evaluation_external"  # (bundle path, file digest, label col, text col, ExternalValidation)
THRESHOLD_KEY = "evaluation_threshold"
DIAGNOSIS_KEY = "evaluation_diagnosis"
SUBGROUP_KEY = "evaluation_subgroup"
DEDUP_KEY = "evaluation_dedup"

PLOT_CONFIG = {"displayModeBar": False}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def md(text: object) -> str:
    """Escape Markdown so manifest or file text is shown literally."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def bundle_digest(bundle: ModelBundle) -> str:
    files = bundle.manifest.get("files") or {}
    return hashlib.sha256(
        (files.get(TEST_PREDICTIONS_FILE, "") + files.get("model.keras", "") + bundle.version).encode()
    ).hexdigest()


# ------------------------------------------------------------------------------------------------
# Cached, bundle-only computations (no user data)
# ------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner="Evaluating the held-out test set (1,000 bootstrap resamples)…", max_entries=32)
def test_evaluation(path: str, digest: str, deduplicated: bool = False):
    return E.evaluate_bundle_test(cache.bundle(path), deduplicated=deduplicated)


@st.cache_data(show_spinner="Evaluating this diagnosis one-vs-rest…", max_entries=128)
def test_one_vs_rest(path: str, digest: str, label: str, deduplicated: bool = False):
    return test_evaluation(path, digest, deduplicated).one_vs_rest(label)


@st.cache_data(show_spinner="Computing subgroup figures…", max_entries=64)
def test_subgroups(path: str, digest: str, column: str, label: str | None = None, deduplicated: bool = False):
    bundle = cache.bundle(path)
    ev = test_evaluation(path, digest, deduplicated)
    if label is not None:
        ev = ev.one_vs_rest(label)
    tp = bundle.test_predictions
    if deduplicated and "near_duplicate" in tp.columns:
        tp = tp[~tp["near_duplicate"].astype(str).str.lower().isin(("true", "1"))]
    return E.subgroup_table(ev, tp[column].astype(str))


@st.cache_data(show_spinner="Writing the model card…", max_entries=16)
def model_card(path: str, digest: str):
    from medviz.modelcard import build_model_card, render_html

    bundle = cache.bundle(path)
    card = build_model_card(bundle, test_evaluation(path, digest))
    return card, render_html(card)


def test_eval_for(bundle: ModelBundle, deduplicated: bool = False):
    return test_evaluation(str(bundle.path), bundle_digest(bundle), deduplicated)


# ------------------------------------------------------------------------------------------------
# Evaluation page
# ------------------------------------------------------------------------------------------------


def render_evaluation_page(bundle: ModelBundle) -> None:
    if bundle.test_predictions is None:
        st.warning(f"'{bundle.name}' has no held-out test predictions: its performance is untested. "
                   "You can still validate it on your own labelled data below.")
    dedup = False
    if bundle.is_text and bundle.test_predictions is not None and "near_duplicate" in bundle.test_predictions.columns:
        dedup = st.toggle("Leave out test texts that are near-duplicates of training texts", key=DEDUP_KEY,
                          help="About 9% of the public test texts nearly repeat a training text; without them the "
                               "figures are a fairer guess of performance on new wording.")
    internal = None
    if bundle.test_predictions is not None:
        try:
            internal = test_eval_for(bundle, dedup)
        except MedvizError as exc:
            st.error(f"The bundle's test predictions cannot be evaluated: {exc}")
    external = _external_section(bundle)
    cohorts = [("Test set", internal, "test")] if internal is not None else []
    if external is not None:
        cohorts.append(("Your data (external)", external.evaluation, "external"))
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


def _columns(n: int):
    return st.columns(n) if n > 1 else [st.container()]


def _cohort_summary(cohorts) -> None:
    st.subheader("Who these figures are about")
    for col, (title, ev, _) in zip(_columns(len(cohorts)), cohorts):
        with col:
            c = ev.cohort
            st.markdown(f"**{md(title)}** — {md(c.source)}")
            if c.description:
                st.caption(md(c.description))
            a, b, d = st.columns(3)
            a.metric("Patients", f"{c.n:,}")
            if c.events is not None:
                b.metric("Events", f"{c.events:,}")
                d.metric("Prevalence", f"{c.prevalence:.1%}")
            else:
                b.metric("Diagnoses present", int(len(np.unique(ev.y))))
            for reason, k in (c.excluded or {}).items():
                st.caption(f"Left out: {k:,} row(s) — {md(reason)}")


def _ci_txt(est, lo, hi, pct=False) -> str:
    if est is None:
        return "not estimable"
    f = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.3f}")
    return f(est) + (f" ({f(lo)}–{f(hi)})" if lo is not None and hi is not None else "")


def _boot_caption(ev) -> None:
    ci = ev.auc if isinstance(ev, E.BinaryEvaluation) else ev.macro_auc
    st.caption(f"95% CIs: {ci.resamples:,} stratified bootstrap resamples of patients (seed {ci.seed}); Wilson "
               "intervals for proportions. All figures are on held-out or external data, never on training data.")


# --- multiclass -----------------------------------------------------------------------------------


def _multiclass_sections(bundle: ModelBundle, cohorts, dedup: bool) -> None:
    st.subheader("Overall: ranked differential")
    for col, (title, ev, _) in zip(_columns(len(cohorts)), cohorts):
        with col:
            a, b, c = st.columns(3)
            a.metric("Top-1 accuracy", f"{ev.top1:.1%}", help="The true diagnosis is ranked first.")
            a.caption(f"95% CI {ev.top1_ci[0]:.1%}–{ev.top1_ci[1]:.1%}")
            b.metric("Top-3 accuracy", f"{ev.top3:.1%}", help="The true diagnosis is among the first three.")
            b.caption(f"95% CI {ev.top3_ci[0]:.1%}–{ev.top3_ci[1]:.1%}")
            m = ev.macro_auc
            c.metric("Macro AUC (one-vs-rest)", "–" if m.estimate is None else f"{m.estimate:.3f}")
            if m.lo is not None:
                c.caption(f"95% CI {m.lo:.3f}–{m.hi:.3f}")
            _boot_caption(ev)
    st.subheader("Per diagnosis")
    for col, (title, ev, key) in zip(_columns(len(cohorts)), cohorts):
        with col:
            st.markdown(f"**{md(title)}**")
            if len(bundle.labels) > WIDE_LABELS:
                _wide_per_class(ev.per_class, key)
                continue
            st.dataframe(_per_class_display(ev.per_class), hide_index=True, width="stretch", height=320)
            st.plotly_chart(C.per_class_chart(ev.per_class), width="stretch", config=PLOT_CONFIG, key=f"evaluation_pc_{key}")
    st.caption("Sensitivity: share of true cases the model ranks first. PPV: share of its first-ranked calls that are "
               "right. Support: true cases in the cohort.")
    st.subheader("Confusions and reliability")
    for col, (title, ev, key) in zip(_columns(len(cohorts)), cohorts):
        with col:
            if len(bundle.labels) > WIDE_LABELS:
                _most_confused(ev.confusion_matrix, title)
            else:
                st.plotly_chart(C.multiclass_heatmap(ev.confusion_matrix, title=f"{title}: true vs top-1 diagnosis"),
                                width="stretch", config=PLOT_CONFIG, key=f"evaluation_cm_{key}")
            st.plotly_chart(C.reliability_chart(ev.reliability, ece=ev.ece, title=f"{title}: reliability of the top diagnosis"),
                            width="stretch", config=PLOT_CONFIG, key=f"evaluation_rel_{key}")
    st.subheader("One diagnosis in detail (one-vs-rest)")
    label = st.selectbox("Diagnosis", bundle.labels, key=DIAGNOSIS_KEY)
    binaries = []
    for title, ev, key in cohorts:
        try:
            b = (test_one_vs_rest(str(bundle.path), bundle_digest(bundle), label, dedup) if key == "test"
                 else ev.one_vs_rest(label))
        except MedvizError as exc:
            st.warning(str(exc))
            continue
        binaries.append((title, b, key))
    if binaries:
        _binary_sections(bundle, binaries, label, headline=True)


WIDE_LABELS = 30  # above this many diagnoses: searchable tables and most-confused pairs instead of grids (issue 15)


def _wide_per_class(pc: pd.DataFrame, key: str) -> None:
    """Per-diagnosis table for hundreds of labels: numeric (sortable by clicking a header) and searchable."""
    query = st.text_input("Find a diagnosis", key=f"evaluation_pc_search_{key}", placeholder="e.g. embolism")
    table = pd.DataFrame({
        "Diagnosis": pc["label"], "Support": pc["support"], "AUC": pc["auc"].astype(float),
        "Sensitivity": pc["sensitivity"].astype(float), "Sensitivity 95% CI": [
            "–" if pd.isna(e) else f"{lo:.0%}–{hi:.0%}" for e, lo, hi in zip(pc["sensitivity"], pc["sensitivity_lo"], pc["sensitivity_hi"])],
        "PPV": pc["ppv"].astype(float), "PPV 95% CI": [
            "–" if pd.isna(e) else f"{lo:.0%}–{hi:.0%}" for e, lo, hi in zip(pc["ppv"], pc["ppv_lo"], pc["ppv_hi"])],
    })
    if query.strip():
        table = table[table["Diagnosis"].str.contains(query.strip(), case=False, regex=False)]
    st.dataframe(table, hide_index=True, width="stretch", height=360, column_config={
        "AUC": st.column_config.NumberColumn(format="%.3f"),
        "Sensitivity": st.column_config.NumberColumn(format="percent"),
        "PPV": st.column_config.NumberColumn(format="percent"),
    })
    st.caption(f"{len(table)} of {len(pc)} diagnoses shown; click a column header to sort.")


def _most_confused(confusion: pd.DataFrame, title: str, n: int = 20) -> None:
    """The most frequent (true, top-1) mistakes: an 801 x 801 grid cannot be read."""
    pairs = M.most_confused_pairs(confusion, n)
    st.markdown(f"**{md(title)}: the {len(pairs)} most frequent confusions** (true diagnosis → top-1 prediction)")
    st.dataframe(pairs.rename(columns={"true": "True diagnosis", "predicted": "Ranked first instead", "count": "Cases",
                                       "share_of_true": "Share of its cases"}),
                 hide_index=True, width="stretch",
                 column_config={"Share of its cases": st.column_config.NumberColumn(format="percent")})


def _per_class_display(pc: pd.DataFrame) -> pd.DataFrame:
    def ci(e, lo, hi):
        return "–" if e is None or pd.isna(e) else f"{e:.0%} ({lo:.0%}–{hi:.0%})"

    return pd.DataFrame({
        "Diagnosis": pc["label"], "Support": pc["support"],
        "AUC": pc["auc"].map(lambda v: "–" if v is None or pd.isna(v) else f"{v:.3f}"),
        "Sensitivity (95% CI)": [ci(*r) for r in zip(pc["sensitivity"], pc["sensitivity_lo"], pc["sensitivity_hi"])],
        "PPV (95% CI)": [ci(*r) for r in zip(pc["ppv"], pc["ppv_lo"], pc["ppv_hi"])],
    })


# --- binary ---------------------------------------------------------------------------------------


def _binary_sections(bundle: ModelBundle, cohorts, positive: str, headline: bool = True) -> None:
    n = len(cohorts)
    if headline:
        for col, (title, ev, _) in zip(_columns(n), cohorts):
            with col:
                r = ev.recalibration
                a, b, c = st.columns(3)
                a.metric("AUC", "–" if ev.auc.estimate is None else f"{ev.auc.estimate:.3f}")
                a.caption(_ci_txt(ev.auc.estimate, ev.auc.lo, ev.auc.hi))
                b.metric("Calibration slope", "–" if r.slope is None else f"{r.slope:.2f}", help="Ideal 1. Below 1: risks too extreme.")
                b.caption(_ci_txt(r.slope, r.slope_lo, r.slope_hi) + " · ideal 1")
                c.metric("Calibration intercept", "–" if r.intercept is None else f"{r.intercept:.2f}",
                         help="Calibration-in-the-large, ideal 0. Above 0: risks too low on average.")
                c.caption(_ci_txt(r.intercept, r.intercept_lo, r.intercept_hi) + " · ideal 0")
                d, e, f = st.columns(3)
                d.metric("Brier score", "–" if ev.brier.estimate is None else f"{ev.brier.estimate:.3f}", help="Lower is better.")
                d.caption(_ci_txt(ev.brier.estimate, ev.brier.lo, ev.brier.hi))
                e.metric("Average precision", "–" if ev.average_precision.estimate is None else f"{ev.average_precision.estimate:.3f}")
                e.caption(_ci_txt(ev.average_precision.estimate, ev.average_precision.lo, ev.average_precision.hi))
                f.metric("Calibration error (ECE)", f"{ev.ece:.3f}", help="Mean |observed − predicted| over 10 risk bins.")
                if r.note:
                    st.caption(md(r.note))
                _boot_caption(ev)
    st.markdown("**Discrimination**")
    for col, (title, ev, key) in zip(_columns(n), cohorts):
        with col:
            left, right = st.columns(2) if n == 1 else (st.container(), st.container())
            left.plotly_chart(C.roc_chart(ev.roc, ev.auc.estimate, ev.auc.lo, ev.auc.hi, title=f"{title}: ROC — {positive}"),
                              width="stretch", config=PLOT_CONFIG, key=f"evaluation_roc_{key}")
            right.plotly_chart(C.pr_chart(ev.pr, ev.average_precision.estimate, ev.average_precision.lo, ev.average_precision.hi,
                                       ev.cohort.prevalence, title=f"{title}: precision–recall"),
                            width="stretch", config=PLOT_CONFIG, key=f"evaluation_pr_{key}")
    st.markdown("**Calibration** — do predicted risks match what happened?")
    for col, (title, ev, key) in zip(_columns(n), cohorts):
        with col:
            st.plotly_chart(C.calibration_chart(ev.calibration_bins, ev.calibration_smooth, ev.risk, title=f"{title}: calibration"),
                            width="stretch", config=PLOT_CONFIG, key=f"evaluation_cal_{key}")
    st.caption("Line: logistic regression on a spline of the predicted risk, with its 95% CI; dots: observed share in "
               "ten equal-size risk groups (Wilson CIs); bars: how many patients got each predicted risk.")
    st.markdown("**Decision curve** — is acting on the model better than treating everyone or no one?")
    thr_default = float(cohorts[0][1].threshold)
    thr = st.slider("Threshold probability (risk at or above it = 'positive')", 0.01, 0.99, value=thr_default, step=0.01,
                    key=f"{THRESHOLD_KEY}_{positive}", help=cohorts[0][1].threshold_source)
    for col, (title, ev, key) in zip(_columns(n), cohorts):
        with col:
            st.plotly_chart(C.decision_curve_chart(ev.decision, title=f"{title}: net benefit", threshold=thr,
                                                   max_threshold=max(0.6, min(0.99, thr + 0.1))),
                            width="stretch", config=PLOT_CONFIG, key=f"evaluation_dc_{key}")
    st.caption("Net benefit = true positives/n − false positives/n × pt/(1−pt). Where the model's line is above both "
               "others, using it does more good than harm at that threshold.")
    st.markdown(f"**At threshold {thr:.2f}** ({md(cohorts[0][1].threshold_source)})")
    for col, (title, ev, key) in zip(_columns(n), cohorts):
        with col:
            cm = ev.confusion(thr)
            left, right = st.columns(2) if n == 1 else (st.container(), st.container())
            left.plotly_chart(C.confusion_chart(cm, positive=positive, title=f"{title}: confusion matrix at {thr:.2f}"),
                              width="stretch", config=PLOT_CONFIG, key=f"evaluation_cm2_{key}")
            right.dataframe(_threshold_table(cm), hide_index=True, width="stretch")
            right.caption(f"{cm['tp'] + cm['fp']:,} of {ev.cohort.n:,} patients ({cm['flagged_share']:.0%}) are at or "
                          "above this threshold.")


def _threshold_table(cm: dict) -> pd.DataFrame:
    rows = []
    for k, name, meaning in (("sensitivity", "Sensitivity", "of patients with the outcome, share flagged"),
                             ("specificity", "Specificity", "of patients without it, share not flagged"),
                             ("ppv", "PPV", "of flagged patients, share with the outcome"),
                             ("npv", "NPV", "of unflagged patients, share without it")):
        v = cm[k]
        rows.append({"Measure": name, "Value": "–" if v is None else f"{v:.1%}",
                     "95% CI (Wilson)": "–" if v is None else f"{cm[k + '_lo']:.1%}–{cm[k + '_hi']:.1%}", "Meaning": meaning})
    return pd.DataFrame(rows)


# --- subgroups and shift ----------------------------------------------------------------------------


def _subgroup_section(bundle: ModelBundle, cohorts, external, dedup: bool) -> None:
    st.subheader("Subgroups")
    options: list[tuple[str, str]] = []
    if bundle.test_predictions is not None:
        skip = {"y_true", "risk", "risk_band"} | {c for c in bundle.test_predictions.columns if c.startswith("prob_")}
        options += [("test", c) for c in bundle.test_predictions.columns if c not in skip]
    if external is not None:
        ext_skip = {external.label_column, external.text_column, "prediction", "probability", "warnings", "error",
                    "flags", "top_reasons", "risk", "risk_band", "prediction_set", "out_of_scope", "out_of_scope_score"}
        options += [("external", c) for c in external.scored.columns if c not in ext_skip and not str(c).startswith("prob_")]
    if not options:
        st.caption("No column to split by: upload a labelled file with columns such as age band, sex or site.")
        return
    label_of = {f"{w}:{c}": f"{c} ({'test set' if w == 'test' else 'your data'})" for w, c in options}
    choice = st.selectbox("Split performance by", [None, *label_of], format_func=lambda k: "—" if k is None else label_of[k],
                          key=SUBGROUP_KEY, help="Numeric columns with many values are cut into quartile bands.")
    if choice is None:
        return
    where, column = choice.split(":", 1)
    try:
        if where == "test":
            table = test_subgroups(str(bundle.path), bundle_digest(bundle), column, None, dedup)
        else:
            ev = external.evaluation
            table = E.subgroup_table(ev, external.scored[column].astype(str))
    except MedvizError as exc:
        st.error(str(exc))
        return
    from medviz.modelcard import subgroup_display

    st.dataframe(subgroup_display(table), hide_index=True, width="stretch")
    flagged = table[table["flag"].astype(str) != ""]
    if len(flagged):
        st.warning(f"{len(flagged)} group(s) are too small to judge (see the flag column); they are shown, not hidden.")
    metric = "auc" if "auc" in table.columns else "top1_accuracy"
    if metric == "top1_accuracy":
        table = table.rename(columns={"top1_lo": "top1_accuracy_lo", "top1_hi": "top1_accuracy_hi"})
    st.plotly_chart(C.subgroup_forest(table, metric=metric, title=f"{'AUC' if metric == 'auc' else 'Top-1 accuracy'} by {column}"),
                    width="stretch", config=PLOT_CONFIG, key="evaluation_forest")


def _shift_section(external) -> None:
    st.subheader("How your data differ from the training data")
    shift = external.shift
    if shift is None:
        st.caption("This bundle stores no training reference to compare with.")
        return
    st.info(shift.verdict)
    t = shift.table.copy()
    if shift.kind == "tabular" and len(t):
        t = t[["label", "unit", "reference_median", "cohort_median", "reference_missing", "cohort_missing", "psi",
               "ks_statistic", "verdict"]].rename(columns={
            "label": "Feature", "unit": "Unit", "reference_median": "Median (reference)", "cohort_median": "Median (yours)",
            "reference_missing": "Missing (reference)", "cohort_missing": "Missing (yours)", "psi": "PSI",
            "ks_statistic": "KS", "verdict": "Verdict"})
        st.dataframe(t, hide_index=True, width="stretch",
                     column_config={"Missing (reference)": st.column_config.NumberColumn(format="percent"),
                                    "Missing (yours)": st.column_config.NumberColumn(format="percent"),
                                    "PSI": st.column_config.NumberColumn(format="%.3f"),
                                    "KS": st.column_config.NumberColumn(format="%.3f")})
        st.caption(f"Compared with: {md(shift.reference)}. PSI < 0.1 similar, 0.1–0.25 moderate, ≥ 0.25 major shift; "
                   "KS = largest gap between the two cumulative distributions.")
    else:
        st.dataframe(t.rename(columns={"measure": "Measure", "cohort": "Your data", "training": "Training"}),
                     hide_index=True, width="stretch")
        st.caption(f"Compared with: {md(shift.reference)}.")


# --- external validation upload --------------------------------------------------------------------


def _scorer(bundle: ModelBundle, text_column: str | None):
    from medviz.scoring import TextScorer, make_scorer

    if bundle.is_text:
        return TextScorer(bundle, text_column or "", predictor=cache.text_predictor(str(bundle.path)))
    return make_scorer(bundle)


def _external_section(bundle: ModelBundle):
    """Upload + column pickers; returns the ExternalValidation for this bundle held in session state, or None."""
    held = st.session_state.get(EXTERNAL_KEY)
    with st.expander("External validation: evaluate the model on your own labelled patients",
                     expanded=held is None or held[0] != str(bundle.path)):
        st.caption("Upload a CSV with the model's inputs and the true outcome. It is checked and scored like a batch and "
                   "evaluated here, beside the test figures. The file stays in your session only.")
        up = st.file_uploader("Labelled CSV", type=["csv"], key=UPLOAD_KEY)
        if up is not None:
            data = up.getvalue()
            digest = hashlib.sha256(data).hexdigest()
            try:
                table = E.read_labelled_upload(data)
            except MedvizError as exc:
                st.error(str(exc))
                return None
            cols = list(map(str, table.columns))
            default_label = next((i for i, c in enumerate(cols) if c.lower() in ("label", "outcome", "y", "y_true", "diagnosis",
                                  "output_text", "type", str((bundle.manifest.get("outcome") or {}).get("column", "")).lower())), 0)
            label_col = st.selectbox("Column with the true outcome", cols, index=default_label, key="evaluation_label_column")
            text_col = None
            if bundle.is_text:
                want = (bundle.manifest.get("inputs") or {}).get("text_column")
                text_col = st.selectbox("Column with the case text", cols, index=cols.index(want) if want in cols else 0,
                                        key="evaluation_text_column")
            if st.button("Evaluate on this file", type="primary", key="evaluation_run"):
                st.session_state.pop(EXTERNAL_KEY, None)
                try:
                    with st.spinner(f"Scoring {len(table):,} rows and bootstrapping…"):
                        result = E.evaluate_external(bundle, table, label_col, text_column=text_col,
                                                     scorer=_scorer(bundle, text_col))
                except MedvizError as exc:
                    st.error(str(exc))
                    return None
                st.session_state[EXTERNAL_KEY] = (str(bundle.path), digest, label_col, text_col, result)
                from medviz.ui.audit_hooks import record

                record("evaluation_upload", bundle=bundle, input_obj=table, dedupe=False,
                       output_summary=f"{len(table)} labelled rows evaluated")
                held = st.session_state[EXTERNAL_KEY]
        elif held is not None:
            st.session_state.pop(EXTERNAL_KEY, None)
            held = None
    if held is None or held[0] != str(bundle.path):
        return None
    result = held[4]
    for n in result.notes:
        st.warning(n)
    return result


# ------------------------------------------------------------------------------------------------
# Model card page
# ------------------------------------------------------------------------------------------------


def render_model_card(bundle: ModelBundle) -> None:
    try:
        card, html_text = model_card(str(bundle.path), bundle_digest(bundle))
    except MedvizError as exc:
        st.error(f"The model card cannot be built: {exc}")
        return
    st.download_button("Download the model card (HTML)", html_text.encode("utf-8"),
                       file_name=f"model-card-{bundle.name}-v{bundle.version}.html", mime="text/html",
                       key="model_card_download")
    st.caption(md(card.subtitle))
    for s in card.sections:
        st.subheader(s.title)
        if s.refs:
            st.caption(md(s.refs))
        for b in s.blocks:
            if b.kind == "text":
                st.markdown(md(b.content))
            elif b.kind == "warning":
                st.warning(md(b.content))
            elif b.kind == "list":
                st.markdown("\n".join(f"- {md(i)}" for i in b.content))
            elif b.kind == "facts":
                # st.table wraps long text (a dataframe would cut it off)
                st.table(pd.DataFrame({"Detail": [str(v) for _, v in b.content]},
                                      index=pd.Index([str(k) for k, _ in b.content], name="Item")))
            elif b.kind == "table":
                st.dataframe(b.content.astype(str), hide_index=True, width="stretch")


# ------------------------------------------------------------------------------------------------
# Case page context (beside a prediction)
# ------------------------------------------------------------------------------------------------


def diagnosis_context_caption(bundle: ModelBundle, label: str) -> None:
    """One line under a predicted diagnosis: its test sensitivity and PPV (CLINICAL.md P4/P5)."""
    try:
        ctx = E.diagnosis_context(bundle, label)
    except MedvizError:
        return
    st.caption(md(ctx["text"]))


def diagnosis_context_table(bundle: ModelBundle, labels: list[str]) -> None:
    """How often each suggested diagnosis was right on held-out test cases (sensitivity, PPV with CIs)."""
    rows = []
    for lab in labels:
        try:
            c = E.diagnosis_context(bundle, lab)
        except MedvizError:
            return
        def ci(k):
            return "–" if c[k] is None else f"{c[k]:.0%} ({c[k + '_lo']:.0%}–{c[k + '_hi']:.0%})"
        rows.append({"Diagnosis": lab, "Test cases": c["support"], "Sensitivity (95% CI)": ci("sensitivity"),
                     "PPV (95% CI)": ci("ppv")})
    if not rows:
        return
    st.markdown("**How reliable these suggestions were on held-out test cases**")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    n = E.diagnosis_context(bundle, labels[0])["n_test"]
    st.caption(f"Out of {n} test cases. Sensitivity: share of true cases of the diagnosis the model ranked first. "
               "PPV: when the model ranked it first, the share where it was right. Small numbers: wide intervals. "
               "See the Evaluation page.")


def risk_context_view(bundle: ModelBundle, risk: float) -> None:
    """Where a risk sits on the test calibration curve, with the chart."""
    try:
        ev = test_eval_for(bundle)
        ctx = E.risk_context(bundle, risk, ev)
    except MedvizError:
        return
    st.caption(md(ctx["text"]))
    st.plotly_chart(C.risk_context_chart(ev.calibration_smooth, ev.risk, risk, title="This risk on the test calibration curve"),
                    width="stretch", config=PLOT_CONFIG, key="case_risk_context")
