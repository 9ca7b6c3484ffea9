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


def pct_range(lo: float, hi: float, digits: int = 0) -> str:
    """A confidence interval of a proportion as text ("<1%–15%"; :func:`medviz.i18n.format_probability`)."""
    return f"{format_probability(lo, digits)}–{format_probability(hi, digits)}"


def pct_estimate(est, lo, hi, digits: int = 0) -> str:
    """A proportion with its confidence interval as text, "42% (30%–55%)", the one form of every evaluation table and
    caption (the estimate alone when the interval is missing); "–" when the estimate is missing or NaN."""
    if est is None or est != est:
        return "–"
    if lo is None or hi is None or lo != lo or hi != hi:
        return format_probability(est, digits)
    return f"{format_probability(est, digits)} ({pct_range(lo, hi, digits)})"


def _ci_txt(est, lo, hi, pct=False) -> str:
    if est is None:
        return _("not estimable")
    if pct:
        return pct_estimate(est, lo, hi, 1)
    return f"{est:.3f}" + (f" ({lo:.3f}–{hi:.3f})" if lo is not None and hi is not None else "")


def _boot_caption(ev) -> None:
    ci = ev.auc if isinstance(ev, E.BinaryEvaluation) else ev.macro_auc
    st.caption(_("95% CIs: {resamples} stratified bootstrap resamples of patients (seed {seed}); Wilson intervals for "
                 "proportions. All figures are on held-out or external data, never on training data.").format(
                     resamples=format_number(ci.resamples), seed=ci.seed))
