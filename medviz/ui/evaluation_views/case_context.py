"""Evaluation look-ups shown on the Case pages (diagnosis sensitivity/PPV, where a risk sits on the test curve)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from medviz import evaluation as E
from medviz.bundle import ModelBundle
from medviz.charts import evaluation as C
from medviz.errors import MedvizError
from medviz.i18n import _, Message, current_language
from medviz.ui.evaluation_views.cached import test_eval_for
from medviz.ui.evaluation_views.common import PLOT_CONFIG, md, pct_estimate


# ------------------------------------------------------------------------------------------------
# Case page context (beside a prediction)
# ------------------------------------------------------------------------------------------------


def diagnosis_context_caption(bundle: ModelBundle, label: str) -> None:
    """One line under a predicted diagnosis: its test sensitivity and PPV (CLINICAL.md P4/P5)."""
    try:
        ctx = E.diagnosis_context(bundle, label)
    except MedvizError:
        return
    text = ctx["text"]  # a medviz.i18n.Message naming the bundle's label: shown with its display name
    st.caption(md(Message(text.template, **{**text.values, "label": bundle.display_label(label, current_language())})))


def diagnosis_context_table(bundle: ModelBundle, labels: list[str]) -> None:
    """How often each suggested diagnosis was right on held-out test cases (sensitivity, PPV with CIs)."""
    rows = []
    for lab in labels:
        try:
            c = E.diagnosis_context(bundle, lab)
        except MedvizError:
            return
        def ci(k):
            return pct_estimate(c[k], c[k + "_lo"], c[k + "_hi"])
        rows.append({_("Diagnosis"): bundle.display_label(lab, current_language()), _("Test cases"): c["support"], _("Sensitivity (95% CI)"): ci("sensitivity"),
                     _("PPV (95% CI)"): ci("ppv")})
    if not rows:
        return
    st.markdown(_("**How reliable these suggestions were on held-out test cases**"))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    n = E.diagnosis_context(bundle, labels[0])["n_test"]
    st.caption(_("Out of {n} test cases. Sensitivity: share of true cases of the diagnosis the model ranked first. "
                 "PPV: when the model ranked it first, the share where it was right. Small numbers: wide intervals. "
                 "See the Evaluation page.").format(n=n))


def risk_context_view(bundle: ModelBundle, risk: float) -> None:
    """Where a risk sits on the test calibration curve, with the chart."""
    try:
        ev = test_eval_for(bundle)
        ctx = E.risk_context(bundle, risk, ev)
    except MedvizError:
        return
    st.caption(md(ctx["text"]))
    st.plotly_chart(C.risk_context_chart(ev.calibration_smooth, ev.risk, risk, title=_("This risk on the test calibration curve")),
                    width="stretch", config=PLOT_CONFIG, key="case_risk_context")
