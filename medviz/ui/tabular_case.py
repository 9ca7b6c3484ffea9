"""The tabular part of the Case page: one input per feature, then the calibrated risk in context.

``render(bundle)`` is called by pages/case.py when the sidebar picked a tabular bundle. Patient values
live only in ``st.session_state`` (keys prefixed ``case_tab_``), never in a cache.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from medviz.bundle import ModelBundle
from medviz.charts.batch import BAND_COLOURS, icon_array
from medviz.errors import MedvizError
from medviz.schema import FLAG_EXTRAPOLATION, FLAG_IMPUTED, INTEGER, FeatureSpec, feature_specs, validate_case
from medviz.tabular.predict import RiskBands
from medviz.tabular.summary import threshold_metrics
from medviz.ui import cache
from medviz.ui.cases import risk_prediction, save_case_button
from medviz.ui.common import esc, plain, plain_table

RESULT_KEY = "case_tab_result"


def _input(spec: FeatureSpec, key: str):
    unit = f" ({spec.unit})" if spec.unit else ""
    helptext = (
        f"{plain(spec.description or spec.display)}. Allowed {plain(spec.limits_text())}; training range "
        f"(1st–99th percentile) {plain(spec.range_text())}. Leave blank if unknown: the model imputes the training "
        f"median ({plain(spec.fmt(spec.median))}) and the result is flagged 'imputed'."
    )
    is_int = spec.type == INTEGER
    # No min_value/max_value on the widget: the browser would silently refuse an out-of-range entry and
    # the result would vanish. Every value is accepted here and validate_case names the field and the
    # allowed range instead (issue 17, item 10).
    kwargs = dict(
        label=plain(f"{spec.display}{unit}"),
        value=None,
        step=1 if is_int else None,
        format=None if is_int else "%g",
        help=helptext,
        placeholder=f"typical {spec.p01:g}–{spec.p99:g}" if spec.p01 is not None and spec.p99 is not None else "blank = imputed",
        key=key,
    )
    return st.number_input(**{k: v for k, v in kwargs.items() if v is not None or k == "value"})


def _pct(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def render(bundle: ModelBundle) -> None:
    """Form + result for a tabular bundle."""
    try:
        specs = feature_specs(bundle.manifest)
        bands = RiskBands.from_manifest(bundle.manifest)
        predictor = cache.tabular_predictor(str(bundle.path))
    except MedvizError as exc:
        st.error(f"This model cannot be used: {plain(exc)}")
        return
    m = bundle.manifest
    positive = m.get("positive_label", bundle.labels[-1])
    outcome = (m.get("outcome") or {}).get("description") or f"{m.get('outcome', {}).get('column', 'outcome')} = {positive}"

    st.markdown(f"Enter the patient's measurements. **Outcome:** {plain(outcome)}")
    st.caption(plain(m.get("inputs", {}).get("missing_values", "")))
    with st.form("case_tab_form", border=True):
        cols = st.columns(min(len(specs), 4))
        values = {}
        for i, spec in enumerate(specs):
            with cols[i % len(cols)]:
                values[spec.name] = _input(spec, key=f"case_tab_in_{spec.name}")
        submitted = st.form_submit_button("Estimate risk", type="primary")
    if submitted:
        st.session_state[RESULT_KEY] = dict(values)
        st.session_state.pop("case_tab_save_saved_id", None)  # a new estimate is not the case saved before
    entered = st.session_state.get(RESULT_KEY)
    if not entered:
        return

    v = validate_case(entered, specs)
    if not v.ok[0]:
        st.error("Not scored — correct the field(s) above and press Estimate risk again: "
                 + plain(field_message(v.error[0], specs)), icon="⚠️")
        return
    risk = float(predictor.predict(v.values)[0])
    band = str(bands.band(np.array([risk]))[0])
    _result(bundle, specs, bands, v, risk, band, positive)
    from medviz.ui.evaluation_views import risk_context_view
    from medviz.ui.explain_views import render_tabular_explanation

    from medviz.ui.audit_hooks import record, summarize_risk

    record("prediction", bundle=bundle, input_obj=v.values.tobytes(), output_summary=summarize_risk(risk, band),
           warnings=[f"{k}:{s.name}" for k, arr in (("imputed", v.missing), ("extrapolation", v.extrapolated))
                     for j, s in enumerate(specs) if arr[0, j]])
    save_case_button(bundle, {s.name: entered.get(s.name) for s in specs},
                     risk_prediction(risk, band, labels=bundle.labels), key="case_tab_save")
    risk_context_view(bundle, risk)
    render_tabular_explanation(bundle, v.values[0])


def field_message(error: str, specs) -> str:
    """A validation message with each feature's short name replaced by its label ('glu: …' -> 'Glucose: …')."""
    for s in sorted(specs, key=lambda s: -len(s.name)):
        error = error.replace(f"{s.name}: ", f"{s.display}: ")
    return error


def _result(bundle, specs, bands: RiskBands, v, risk: float, band: str, positive: str) -> None:
    m = bundle.manifest
    st.divider()
    left, mid, right = st.columns([1.1, 1.3, 1.2])
    with left:
        st.metric(f"Calibrated risk of {plain(positive)}", f"{risk:.1%}")
        colour = BAND_COLOURS.get(band, "#888")
        st.markdown(
            f"<span style='background:{colour};color:white;padding:0.2rem 0.6rem;border-radius:0.4rem;"
            f"font-weight:600'>{esc(band.upper())} risk band</span>",
            unsafe_allow_html=True,
        )
        st.markdown(f"**Bands:** {plain(bands.describe())}")
        with st.expander("Why these cut-points"):
            st.text(bands.rationale or "No rationale recorded in the manifest.")
    with mid:
        tp = bundle.test_predictions
        st.markdown(f"**At the high-risk threshold ({bands.high_cut:.0%})**, on the held-out test set:")
        if tp is not None and {"y_true", "risk"} <= set(tp.columns):
            t = threshold_metrics(tp["y_true"].to_numpy(), tp["risk"].to_numpy(), bands.high_cut)
            table = pd.DataFrame(
                {
                    "measure": ["Sensitivity", "Specificity", "PPV", "NPV"],
                    "value": [_pct(t["sensitivity"]), _pct(t["specificity"]), _pct(t["ppv"]), _pct(t["npv"])],
                    "meaning": [
                        f"{t['tp']} of {t['tp'] + t['fn']} test patients with {positive} were called high",
                        f"{t['tn']} of {t['tn'] + t['fp']} without it were not called high",
                        f"{t['tp']} of {t['tp'] + t['fp']} called high had {positive}",
                        f"{t['tn']} of {t['tn'] + t['fn']} not called high did not",
                    ],
                }
            )
            st.table(plain_table(table.set_index("measure")))
            st.caption(f"Test set: {len(tp)} patients ({plain(m.get('training', {}).get('test_file', 'held-out data'))}).")
        else:
            st.warning("This bundle has no stored test predictions: sensitivity, specificity, PPV and NPV are unavailable.")
    with right:
        prev = m.get("test_prevalence")
        if prev is None and bundle.test_predictions is not None and "y_true" in bundle.test_predictions:
            prev = float(bundle.test_predictions["y_true"].mean())
        if prev is not None:
            st.markdown(f"**Base rate:** {prev:.0%} of the test cohort had {plain(positive)}.")
            st.plotly_chart(icon_array(prev, label=f"with {positive}"),
                            config={"displayModeBar": False}, key="case_tab_icons")

    flagged_imp = [s for j, s in enumerate(specs) if v.missing[0, j]]
    flagged_ex = [s for j, s in enumerate(specs) if v.extrapolated[0, j]]
    if flagged_ex:
        st.warning(
            "**Extrapolation:** " + "; ".join(
                f"{plain(s.display)} {plain(s.fmt(float(v.values[0, j])))} is outside the training range {plain(s.range_text())}"
                for j, s in enumerate(specs) if v.extrapolated[0, j]
            ) + ". The model has seen few or no patients like this; treat the estimate with extra caution."
        )
    if flagged_imp:
        st.info("**Imputed:** " + ", ".join(plain(s.display) for s in flagged_imp)
                + " left blank; the model used the training median and its missing-value indicator.")

    rows = []
    for j, s in enumerate(specs):
        status = []
        if v.missing[0, j]:
            status.append(f"{FLAG_IMPUTED} (median {s.fmt(s.median)})")
        if v.extrapolated[0, j]:
            status.append(FLAG_EXTRAPOLATION)
        rows.append({
            "feature": s.display, "name": s.name,
            "value": "" if v.missing[0, j] else s.fmt(float(v.values[0, j])),
            "training range (1st–99th pct)": s.range_text(), "hard limits": s.limits_text(),
            "status": ", ".join(status) or "ok",
        })
    st.markdown("**Inputs the model used**")
    st.table(plain_table(pd.DataFrame(rows).set_index("feature")))
    st.caption("Decision support only: the estimate describes this model's training cohort; it is not a diagnosis.")
