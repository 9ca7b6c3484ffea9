"""Monitoring: live performance of the chosen model from recorded outcomes, beside its test figures."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from medviz.charts.monitoring import live_performance
from medviz.i18n import _, format_number, format_percent
from medviz.store import cases, get_engine, monitoring
from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner, plain
from medviz.ui.messages import library_message

require_signed_in()
st.title("📈 " + _("Monitoring"))
bundle = current_bundle()
intended_use_banner(bundle)
if bundle is None:
    st.stop()

freq = st.radio(_("Group by"), ["W", "M"], horizontal=True, key="monitoring_freq",
                format_func=lambda f: _("week") if f == "W" else _("month"))
recorded = cases.list_cases(get_engine(), model_name=bundle.name, model_version=bundle.version, with_outcome_only=True)
rep = monitoring.report(recorded, bundle.manifest, freq=freq)
st.caption(_("From {n} saved case(s) with a confirmed outcome for {name} v{version}, all users. "
             "Test figures: manifest metrics '{split}'. An alert needs ≥ {min_n} "
             "outcomes and a 95% interval entirely below the test figure.").format(
    n=rep.n, name=plain(bundle.name), version=plain(bundle.version), split=plain(rep.reference_split or _("none")),
    min_n=monitoring.MIN_N))
for a in rep.alerts:
    st.error(plain(library_message(a)), icon="🚨")
for n in rep.notes:
    st.info(plain(library_message(n)))

o, ref = rep.overall, rep.reference


def _fmt(v, pct=True):
    return "—" if v is None else (format_percent(v, 1) if pct else format_number(v, 3))


if rep.task == "text_classification":
    metric_cols = [("top1_accuracy", _("Top-1 accuracy")), ("top3_accuracy", _("Top-3 accuracy"))]
    cols = st.columns(3)
    cols[0].metric(_("Outcomes recorded"), rep.n)
    for col, (m, label) in zip(cols[1:], metric_cols):
        v = o.get(m)
        delta = None if v is None or m not in ref else _("{delta} pts vs test").format(delta=f"{(v - ref[m]) * 100:+.1f}")
        col.metric(_("{metric} (live)").format(metric=label), _fmt(v), delta=delta,
                   help=_("95% CI {lo}–{hi}; test: {test}").format(lo=_fmt(o.get(m + '_lo')), hi=_fmt(o.get(m + '_hi')),
                                                                   test=_fmt(ref.get(m))))
    fig = live_performance(rep.periods, metric_cols, ref)
else:
    metric_cols = [("auc", "AUC")]
    cols = st.columns(4)
    cols[0].metric(_("Outcomes (events)"), f"{rep.n} ({o.get('events', 0)})")
    cols[1].metric(_("AUC (live)"), _fmt(o.get("auc"), False),
                   delta=None if o.get("auc") is None or "auc" not in ref
                   else _("{delta} vs test").format(delta=f"{o['auc'] - ref['auc']:+.3f}"),
                   help=_("95% bootstrap CI {lo}–{hi}").format(lo=_fmt(o.get('auc_lo'), False), hi=_fmt(o.get('auc_hi'), False)))
    cols[2].metric(_("Observed / expected events"), _fmt(o.get("oe"), False),
                   help=_("95% CI {lo}–{hi}; 1 = calibrated in the large").format(
                       lo=_fmt(o.get('oe_lo'), False), hi=_fmt(o.get('oe_hi'), False)))
    cols[3].metric(_("Brier score (live)"), _fmt(o.get("brier"), False),
                   help=_("test: {value}").format(value=_fmt(ref.get('brier'), False)))
    fig = live_performance(rep.periods, metric_cols, ref)
    if len(rep.periods):
        st.plotly_chart(live_performance(rep.periods, [("oe", _("Observed/expected"))], {"oe": 1.0},
                                         title=_("Calibration in the large (1 = calibrated)"), y_range=None), key="monitoring_oe")

if len(rep.periods):
    st.plotly_chart(fig, key="monitoring_chart")
    show = rep.periods.copy()
    show["period"] = pd.to_datetime(show["period"]).dt.strftime("%Y-%m-%d")
    st.dataframe(show.round(3), hide_index=True, width="stretch")
