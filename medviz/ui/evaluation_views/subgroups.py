"""The Evaluation page's subgroup and cohort-shift sections."""

from __future__ import annotations

import streamlit as st

from medviz import evaluation as E
from medviz.bundle import ModelBundle
from medviz.charts import evaluation as C
from medviz.errors import MedvizError
from medviz.i18n import _, ngettext, translate
from medviz.ui.evaluation_views.cached import bundle_digest, test_subgroups
from medviz.ui.evaluation_views.common import PLOT_CONFIG, SUBGROUP_KEY, md


# --- subgroups and shift ----------------------------------------------------------------------------


def _subgroup_section(bundle: ModelBundle, cohorts, external, dedup: bool) -> None:
    st.subheader(_("Subgroups"))
    options: list[tuple[str, str]] = []
    if bundle.test_predictions is not None:
        skip = {"y_true", "risk", "risk_band"} | {c for c in bundle.test_predictions.columns if c.startswith("prob_")}
        options += [("test", c) for c in bundle.test_predictions.columns if c not in skip]
    if external is not None:
        ext_skip = {external.label_column, external.text_column, "prediction", "probability", "warnings", "error",
                    "flags", "top_reasons", "risk", "risk_band", "prediction_set", "out_of_scope", "out_of_scope_score"}
        options += [("external", c) for c in external.scored.columns if c not in ext_skip and not str(c).startswith("prob_")]
    if not options:
        st.caption(_("No column to split by: upload a labelled file with columns such as age band, sex or site."))
        return
    label_of = {f"{w}:{c}": (_("{column} (test set)") if w == "test" else _("{column} (your data)")).format(column=c)
                for w, c in options}
    choice = st.selectbox(_("Split performance by"), [None, *label_of], format_func=lambda k: "—" if k is None else label_of[k],
                          key=SUBGROUP_KEY, help=_("Numeric columns with many values are cut into quartile bands."))
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
        st.error(md(exc))
        return
    from medviz.modelcard import subgroup_display

    st.dataframe(subgroup_display(table), hide_index=True, width="stretch")
    flagged = table[table["flag"].astype(str) != ""]
    if len(flagged):
        st.warning(ngettext("{n} group is too small to judge (see the flag column); it is shown, not hidden.",
                            "{n} groups are too small to judge (see the flag column); they are shown, not hidden.",
                            len(flagged)).format(n=len(flagged)))
    metric = "auc" if "auc" in table.columns else "top1_accuracy"
    if metric == "top1_accuracy":
        table = table.rename(columns={"top1_lo": "top1_accuracy_lo", "top1_hi": "top1_accuracy_hi"})
    st.plotly_chart(C.subgroup_forest(table, metric=metric, title=(_("AUC by {column}") if metric == "auc" else _("Top-1 accuracy by {column}")).format(column=column)),
                    width="stretch", config=PLOT_CONFIG, key="evaluation_forest")


def _shift_section(external) -> None:
    st.subheader(_("How your data differ from the training data"))
    shift = external.shift
    if shift is None:
        st.caption(_("This bundle stores no training reference to compare with."))
        return
    st.info(md(shift.verdict))
    t = shift.table.copy()
    for column in ("verdict", "measure"):  # medviz.i18n.Message cells (the library's English)
        if column in t.columns:
            t[column] = t[column].map(translate)
    if shift.kind == "tabular" and len(t):
        t = t[["label", "unit", "reference_median", "cohort_median", "reference_missing", "cohort_missing", "psi",
               "ks_statistic", "verdict"]].rename(columns={
            "label": _("Feature"), "unit": _("Unit"), "reference_median": _("Median (reference)"),
            "cohort_median": _("Median (yours)"), "reference_missing": _("Missing (reference)"),
            "cohort_missing": _("Missing (yours)"), "psi": "PSI", "ks_statistic": "KS", "verdict": _("Verdict")})
        st.dataframe(t, hide_index=True, width="stretch",
                     column_config={_("Missing (reference)"): st.column_config.NumberColumn(format="percent"),
                                    _("Missing (yours)"): st.column_config.NumberColumn(format="percent"),
                                    "PSI": st.column_config.NumberColumn(format="%.3f"),
                                    "KS": st.column_config.NumberColumn(format="%.3f")})
        st.caption(_("Compared with: {reference}. PSI < 0.1 similar, 0.1–0.25 moderate, ≥ 0.25 major shift; KS = largest "
                     "gap between the two cumulative distributions.").format(reference=md(shift.reference)))
    else:
        st.dataframe(t.rename(columns={"measure": _("Measure"), "cohort": _("Your data"), "training": _("Training")}),
                     hide_index=True, width="stretch")
        st.caption(_("Compared with: {reference}.").format(reference=md(shift.reference)))
