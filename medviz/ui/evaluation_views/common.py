"""Session-state keys and small rendering helpers shared by the evaluation sections."""

from __future__ import annotations

import streamlit as st

from medviz import evaluation as E
from medviz.i18n import _, format_number, format_probability
from medviz.ui.common import plain


UPLOAD_KEY = "evaluation_upload"
EXTERNAL_KEY = "evaluation_external"  # (bundle path, file digest, label col, text col, ExternalValidation)
THRESHOLD_KEY = "evaluation_threshold"
DIAGNOSIS_KEY = "evaluation_diagnosis"
SUBGROUP_KEY = "evaluation_subgroup"
DEDUP_KEY = "evaluation_dedup"

PLOT_CONFIG = {"displayModeBar": False}


def md(text: object) -> str:
    """Escape Markdown and HTML so manifest or file text is shown literally (medviz.ui.common.plain)."""
    return plain(text)


def _columns(n: int):
    return st.columns(n) if n > 1 else [st.container()]


def _ci_txt(est, lo, hi, pct=False) -> str:
    if est is None:
        return _("not estimable")
    f = (lambda v: format_probability(v, 1)) if pct else (lambda v: f"{v:.3f}")
    return f(est) + (f" ({f(lo)}–{f(hi)})" if lo is not None and hi is not None else "")


def _boot_caption(ev) -> None:
    ci = ev.auc if isinstance(ev, E.BinaryEvaluation) else ev.macro_auc
    st.caption(_("95% CIs: {resamples} stratified bootstrap resamples of patients (seed {seed}); Wilson intervals for "
                 "proportions. All figures are on held-out or external data, never on training data.").format(
                     resamples=format_number(ci.resamples), seed=ci.seed))
