"""Monitoring: live performance of the chosen model from recorded outcomes, beside its test figures."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from medviz.charts.monitoring import live_performance
from medviz.store import cases, get_engine, monitoring
from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner, plain

require_signed_in()
st.title("📈 Monitoring")
bundle = current_bundle()
intended_use_banner(bundle)
if bundle is None:
    st.stop()

freq = st.radio("Group by", ["W", "M"], horizontal=True, key="monitoring_freq",
                format_func={"W": "week", "M": "month"}.get)
recorded = cases.list_cases(get_engine(), model_name=bundle.name, model_version=bundle.version, with_outcome_only=True)
rep = monitoring.report(recorded, bundle.manifest, freq=freq)
st.caption(f"From {rep.n} saved case(s) with a confirmed outcome for {plain(bundle.name)} v{plain(bundle.version)}, all users. "
           f"Test figures: manifest metrics '{plain(rep.reference_split or 'none')}'. An alert needs ≥ {monitoring.MIN_N} "
           "outcomes and a 95% interval entirely below the test figure.")
for a in rep.alerts:
    st.error(plain(a), icon="🚨")
for n in rep.notes:
    st.info(plain(n))

o, ref = rep.overall, rep.reference


def _fmt(v, pct=True):
    return "—" if v is None else (f"{v:.1%}" if pct else f"{v:.3f}")


if rep.task == "text_classification":
    metric_cols = [("top1_accuracy", "Top-1 accuracy"), ("top3_accuracy", "Top-3 accuracy")]
    cols = st.columns(3)
    cols[0].metric("Outcomes recorded", rep.n)
    for col, (m, label) in zip(cols[1:], metric_cols):
        v = o.get(m)
        delta = None if v is None or m not in ref else f"{(v - ref[m]) * 100:+.1f} pts vs test"
        col.metric(f"{label} (live)", _fmt(v), delta=delta,
                   help=f"95% CI {_fmt(o.get(m + '_lo'))}–{_fmt(o.get(m + '_hi'))}; test: {_fmt(ref.get(m))}")
    fig = live_performance(rep.periods, metric_cols, ref)
else:
    metric_cols = [("auc", "AUC")]
    cols = st.columns(4)
    cols[0].metric("Outcomes (events)", f"{rep.n} ({o.get('events', 0)})")
    cols[1].metric("AUC (live)", _fmt(o.get("auc"), False),
                   delta=None if o.get("auc") is None or "auc" not in ref else f"{o['auc'] - ref['auc']:+.3f} vs test",
                   help=f"95% bootstrap CI {_fmt(o.get('auc_lo'), False)}–{_fmt(o.get('auc_hi'), False)}")
    cols[2].metric("Observed / expected events", _fmt(o.get("oe"), False),
                   help=f"95% CI {_fmt(o.get('oe_lo'), False)}–{_fmt(o.get('oe_hi'), False)}; 1 = calibrated in the large")
    cols[3].metric("Brier score (live)", _fmt(o.get("brier"), False),
                   help=f"test: {_fmt(ref.get('brier'), False)}")
    fig = live_performance(rep.periods, metric_cols, ref)
    if len(rep.periods):
        st.plotly_chart(live_performance(rep.periods, [("oe", "Observed/expected")], {"oe": 1.0},
                                         title="Calibration in the large (1 = calibrated)", y_range=None), key="monitoring_oe")

if len(rep.periods):
    st.plotly_chart(fig, key="monitoring_chart")
    show = rep.periods.copy()
    show["period"] = pd.to_datetime(show["period"]).dt.strftime("%Y-%m-%d")
    st.dataframe(show.round(3), hide_index=True, width="stretch")
