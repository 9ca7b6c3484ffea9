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
from medviz.i18n import N_, _, format_probability
from medviz.schema import FLAG_EXTRAPOLATION, FLAG_IMPUTED, INTEGER, FeatureSpec, feature_specs, validate_case
from medviz.tabular.predict import RiskBands
from medviz.tabular.summary import threshold_metrics
from medviz.ui import cache
from medviz.ui.cases import risk_prediction, save_case_button
from medviz.ui.common import esc, label_text, plain, plain_table
from medviz.ui.messages import library_message, term

RESULT_KEY = "case_tab_result"
# The per-row flags as the page names them (the scored CSV keeps the English codes).
FLAG_TEXT = {FLAG_IMPUTED: N_("imputed"), FLAG_EXTRAPOLATION: N_("extrapolation")}


def _input(spec: FeatureSpec, key: str):
    unit = f" ({spec.unit})" if spec.unit else ""
    helptext = _(
        "{description}. Allowed {limits}; training range (1st–99th percentile) {range}. Leave blank if unknown: "
        "the model imputes the training median ({median}) and the result is flagged 'imputed'."
    ).format(description=plain(spec.description or spec.display), limits=plain(spec.limits_text()),
             range=plain(spec.range_text()), median=plain(spec.fmt(spec.median)))
    is_int = spec.type == INTEGER
    # No min_value/max_value on the widget: the browser would silently refuse an out-of-range entry and
    # the result would vanish. Every value is accepted here and validate_case names the field and the
    # allowed range instead (issue 17, item 10).
    kwargs = dict(
        label=label_text(f"{spec.display}{unit}"),  # read aloud as the aria-label: no stray escapes
        value=None,
        step=1 if is_int else None,
        format=None if is_int else "%g",
        help=helptext,
        placeholder=(_("typical {low}–{high}").format(low=f"{spec.p01:g}", high=f"{spec.p99:g}")
                     if spec.p01 is not None and spec.p99 is not None else _("blank = imputed")),
        key=key,
    )
    return st.number_input(**{k: v for k, v in kwargs.items() if v is not None or k == "value"})


def _pct(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format_probability(v, 0)


def render(bundle: ModelBundle) -> None:
    """Form + result for a tabular bundle."""
    try:
        specs = feature_specs(bundle.manifest)
        bands = RiskBands.from_manifest(bundle.manifest)
        predictor = cache.tabular_predictor(str(bundle.path))
    except MedvizError as exc:
        st.error(_("This model cannot be used: {reason}").format(reason=plain(library_message(exc))))
        return
    m = bundle.manifest
    positive = m.get("positive_label", bundle.labels[-1])
    outcome = (m.get("outcome") or {}).get("description") or f"{m.get('outcome', {}).get('column', 'outcome')} = {positive}"

    st.markdown(_("Enter the patient's measurements. **Outcome:** {outcome}").format(outcome=plain(outcome)))
    st.caption(plain(m.get("inputs", {}).get("missing_values", "")))
    with st.form("case_tab_form", border=True):
        cols = st.columns(min(len(specs), 4))
        values = {}
        for i, spec in enumerate(specs):
            with cols[i % len(cols)]:
                values[spec.name] = _input(spec, key=f"case_tab_in_{spec.name}")
        submitted = st.form_submit_button(_("Estimate risk"), type="primary")
    if submitted:
        st.session_state[RESULT_KEY] = dict(values)
        st.session_state.pop("case_tab_save_saved_id", None)  # a new estimate is not the case saved before
    entered = st.session_state.get(RESULT_KEY)
    if not entered:
        return

    v = validate_case(entered, specs)
    if not v.ok[0]:
        st.error(_("Not scored — correct the field(s) above and press Estimate risk again: {problem}").format(
            problem=plain(library_message(field_message(v.error[0], specs)))), icon="⚠️")
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
        st.metric(_("Calibrated risk of {outcome}").format(outcome=label_text(positive)), format_probability(risk, 1))
        colour = BAND_COLOURS.get(band, "#888")
        st.markdown(
            f"<span style='background:{colour};color:white;padding:0.2rem 0.6rem;border-radius:0.4rem;"
            f"font-weight:600'>" + esc(_("{band} risk band").format(band=term(band).upper())) + "</span>",
            unsafe_allow_html=True,
        )
        st.markdown(_("**Bands:** {bands}").format(bands=plain(bands.describe())))
        with st.expander(_("Why these cut-points")):
            st.text(bands.rationale or _("No rationale recorded in the manifest."))
    with mid:
        tp = bundle.test_predictions
        st.markdown(_("**At the high-risk threshold ({threshold})**, on the held-out test set:").format(
            threshold=format_probability(bands.high_cut, 0)))
        if tp is not None and {"y_true", "risk"} <= set(tp.columns):
            t = threshold_metrics(tp["y_true"].to_numpy(), tp["risk"].to_numpy(), bands.high_cut)
            table = pd.DataFrame(
                {
                    _("measure"): [_("Sensitivity"), _("Specificity"), _("PPV"), _("NPV")],
                    _("value"): [_pct(t["sensitivity"]), _pct(t["specificity"]), _pct(t["ppv"]), _pct(t["npv"])],
                    _("meaning"): [
                        _("{k} of {n} test patients with {outcome} were called high").format(
                            k=t['tp'], n=t['tp'] + t['fn'], outcome=positive),
                        _("{k} of {n} without it were not called high").format(k=t['tn'], n=t['tn'] + t['fp']),
                        _("{k} of {n} called high had {outcome}").format(k=t['tp'], n=t['tp'] + t['fp'], outcome=positive),
                        _("{k} of {n} not called high did not").format(k=t['tn'], n=t['tn'] + t['fn']),
                    ],
                }
            )
            st.table(plain_table(table.set_index(_("measure"))))
            st.caption(_("Test set: {n} patients ({source}).").format(
                n=len(tp), source=plain(m.get('training', {}).get('test_file') or _('held-out data'))))
        else:
            st.warning(_("This bundle has no stored test predictions: sensitivity, specificity, PPV and NPV are unavailable."))
    with right:
        prev = m.get("test_prevalence")
        if prev is None and bundle.test_predictions is not None and "y_true" in bundle.test_predictions:
            prev = float(bundle.test_predictions["y_true"].mean())
        if prev is not None:
            st.markdown(_("**Base rate:** {share} of the test cohort had {outcome}.").format(
                share=format_probability(prev, 0), outcome=plain(positive)))
            st.plotly_chart(icon_array(prev, label=_("with {outcome}").format(outcome=positive)),
                            config={"displayModeBar": False}, key="case_tab_icons")

    flagged_imp = [s for j, s in enumerate(specs) if v.missing[0, j]]
    flagged_ex = [s for j, s in enumerate(specs) if v.extrapolated[0, j]]
    if flagged_ex:
        st.warning(_(
            "**Extrapolation:** {items}. The model has seen few or no patients like this; treat the estimate "
            "with extra caution.").format(items="; ".join(
                _("{feature} {value} is outside the training range {range}").format(
                    feature=plain(s.display), value=plain(s.fmt(float(v.values[0, j]))), range=plain(s.range_text()))
                for j, s in enumerate(specs) if v.extrapolated[0, j]))
        )
    if flagged_imp:
        st.info(_("**Imputed:** {features} left blank; the model used the training median and its missing-value "
                  "indicator.").format(features=", ".join(plain(s.display) for s in flagged_imp)))

    rows = []
    for j, s in enumerate(specs):
        status = []
        if v.missing[0, j]:
            status.append(_("{flag} (median {median})").format(flag=_(FLAG_TEXT.get(FLAG_IMPUTED, FLAG_IMPUTED)),
                                                               median=s.fmt(s.median)))
        if v.extrapolated[0, j]:
            status.append(_(FLAG_TEXT.get(FLAG_EXTRAPOLATION, FLAG_EXTRAPOLATION)))
        rows.append({
            _("feature"): s.display, _("name"): s.name,
            _("value"): "" if v.missing[0, j] else s.fmt(float(v.values[0, j])),
            _("training range (1st–99th pct)"): s.range_text(), _("hard limits"): s.limits_text(),
            _("status"): ", ".join(status) or _("ok"),
        })
    st.markdown("**" + _("Inputs the model used") + "**")
    st.table(plain_table(pd.DataFrame(rows).set_index(_("feature"))))
    st.caption(_("Decision support only: the estimate describes this model's training cohort; it is not a diagnosis."))
