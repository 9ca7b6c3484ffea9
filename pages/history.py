"""Case history: save a case with the model's output; later record the confirmed outcome and whether you
agreed with the model (CLINICAL.md P10). Clinicians see their own cases only."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from medviz.errors import MedvizError
from medviz.i18n import N_, _, format_datetime, format_percent
from medviz.store import cases, get_engine
from medviz.text.analyse import analyse_case
from medviz.ui import cache
from medviz.ui.audit_hooks import record, summarize_probabilities
from medviz.ui.auth import require_signed_in, session
from medviz.ui.cases import flash, outcome_problems, save_case, show_flash
from medviz.ui.common import current_bundle, intended_use_banner, plain
from medviz.ui.messages import library_message
from medviz.ui.text_case import show_unscored_reading

OTHER = N_("Other (not in the model's list)…")  # the option's value; shown translated

DECISION_CHOICES = {"agree": N_("Agreed with it"), "disagree": N_("Disagreed"), "override": N_("Overrode it")}
DECISION_NAMES = {"agree": N_("agree"), "disagree": N_("disagree"), "override": N_("override")}
OUTCOME_RECORDED = {
    "agree": N_("Outcome recorded for case {case_id}: confirmed {confirmed}, you agreed with the model."),
    "disagree": N_("Outcome recorded for case {case_id}: confirmed {confirmed}, you disagreed with the model."),
    "override": N_("Outcome recorded for case {case_id}: confirmed {confirmed}, you overrode the model."),
}

require_signed_in()
st.title("🗂️ " + _("Case history"))
bundle = current_bundle()
intended_use_banner(bundle)
me = (session() or {}).get("username", "?")
engine = get_engine()
show_flash()

new_tab, saved_tab = st.tabs([_("New case"), _("My saved cases")])

with new_tab:
    if bundle is None:
        st.info(_("Pick a model in the sidebar."))
    elif not bundle.is_text:
        st.info(_("Risk-model cases are saved from the Case page: enter the measurements, press Estimate risk, then "
                  "'Save case for outcome feedback' under the result."))
    else:
        st.caption(_("Type the case as you would describe it. Do not enter names, dates of birth or record numbers: "
                     "the case is filed under a random case ID."))
        text = st.text_area(_("Case description"), key="history_new_text", height=120)
        if st.button(_("Predict and save"), key="history_new_save", type="primary"):
            st.session_state.pop("history_new_result", None)
            try:  # the same pipeline as the Case page: preprocessing, safety checks, whole note
                analysis = analyse_case(cache.text_predictor(str(bundle.path)), text)
            except MedvizError as exc:
                st.error(plain(library_message(exc)))
                show_unscored_reading(exc)  # every finding denied: the findings, as on the Case page
            else:
                probs = analysis.probabilities
                summary = summarize_probabilities(bundle.labels, probs)
                record("prediction", bundle=bundle, input_obj=analysis.text, output_summary=summary,
                       warnings=analysis.warning_codes)
                saved = save_case(bundle, analysis.text, cases.text_prediction(bundle.labels, probs))
                st.session_state["history_new_result"] = (saved, summary, analysis.warnings)
        result = st.session_state.get("history_new_result")
        if result and result[0]:
            for w in result[2]:
                st.warning(plain(library_message(w)), icon="⚠️")
            st.success(_("Saved as case **{case_id}** — {summary}. Record the confirmed diagnosis under "
                         "'My saved cases' when it is known.").format(case_id=plain(result[0]), summary=plain(result[1])))

with saved_tab:
    mine = cases.list_cases(engine, created_by=me, limit=2000)
    if not mine:
        st.info(_("You have not saved any cases yet."))
    else:
        table = pd.DataFrame([{
            _("case ID"): c.case_id,
            _("saved (UTC)"): format_datetime(c.created_at, "short"),
            _("model"): f"{c.model_name} v{c.model_version}",
            _("model said"): c.top_label if c.top_label is not None else (
                _("risk {risk}").format(risk=format_percent(c.risk, 1)) if c.risk is not None else ""),
            _("confirmed"): c.outcome.confirmed if c.outcome else "",
            _("your decision"): _(DECISION_NAMES[c.outcome.decision]) if c.outcome and c.outcome.decision in DECISION_NAMES
            else (c.outcome.decision if c.outcome else ""),
            _("encrypted"): _("yes") if c.encrypted else _("no"),
        } for c in mine])
        st.dataframe(table, hide_index=True, width="stretch")
        case_id = st.selectbox(_("Open a case"), [c.case_id for c in mine], key="history_open_case")
        try:
            detail = cases.get_case(engine, case_id, decrypt=True)
        except MedvizError as exc:
            st.error(plain(library_message(exc)))
            st.stop()
        c = detail.summary
        record("case_view", model=(c.model_name, c.model_version, c.model_sha256), case_id=case_id,
               output_summary="viewed a saved case")
        left, right = st.columns(2)
        with left:
            st.markdown("**" + _("Case as saved") + "**")
            if isinstance(detail.content, dict):
                st.dataframe(pd.DataFrame({_("field"): list(detail.content), _("value"): [_("blank (imputed)") if v is None else str(v)
                                                                       for v in detail.content.values()]}),
                             hide_index=True)
            else:
                st.text(detail.content)
            st.caption(_("Saved {when} UTC with {model} v{version}.").format(
                when=format_datetime(c.created_at, "short"), model=plain(c.model_name), version=plain(c.model_version)))
        with right:
            st.markdown("**" + _("What the model said then") + "**")
            probs = c.prediction.get("probabilities")
            if probs:
                top = sorted(probs.items(), key=lambda kv: -kv[1])[:5]
                st.dataframe(pd.DataFrame({_("diagnosis"): [k for k, _p in top], _("probability"): [round(v, 3) for _k, v in top]}),
                             hide_index=True)
                choices = sorted(probs)
            else:
                st.metric(_("Risk"), format_percent(c.risk, 1))
                choices = list(c.prediction.get("labels") or
                               (bundle.labels if bundle is not None and bundle.name == c.model_name else []))
        for o in detail.outcomes:
            st.caption(_("{when} UTC · {who}: confirmed **{confirmed}**, {decision}").format(
                when=format_datetime(o.recorded_at, "short"), who=plain(o.recorded_by), confirmed=plain(o.confirmed),
                decision=plain(_(DECISION_NAMES[o.decision]) if o.decision in DECISION_NAMES else o.decision))
                + (f" — {plain(o.reason)}" if o.reason else ""))
        st.markdown("**" + _("Record the confirmed outcome") + "**")
        form_keys = ("history_confirmed", "history_confirmed_other", "history_decision", "history_reason")
        if st.session_state.pop("history_outcome_reset", False):  # after a save: empty fields for the next one
            for k in form_keys:
                st.session_state.pop(k, None)
        # Nothing is preselected: the clinician chooses the outcome and the decision. The form keeps what
        # was entered when something is missing (no clear_on_submit) and says what.
        with st.form("history_outcome_form"):
            pick = st.selectbox(_("Confirmed diagnosis / outcome"), choices + [OTHER], index=None, key="history_confirmed",
                                placeholder=_("Choose the confirmed diagnosis or outcome"),
                                format_func=lambda x: _(OTHER) if x == OTHER else x)
            other = st.text_input(_("If other: what was confirmed"), key="history_confirmed_other")
            decision = st.radio(_("Your decision about the model's output"), cases.DECISIONS, horizontal=True, index=None,
                                key="history_decision", format_func=lambda d: _(DECISION_CHOICES.get(d, d)))
            reason = st.text_area(_("Reason (required when you disagreed or overrode)"), key="history_reason", height=80)
            submitted = st.form_submit_button(_("Record outcome"), type="primary")
        if submitted:
            problems = outcome_problems(pick, other, decision, reason, other_choice=OTHER)
            if problems:
                st.error(_("Not recorded yet — please complete: {problems}.").format(problems=plain("; ".join(problems))))
            else:
                confirmed = other.strip() if pick == OTHER else pick
                try:
                    out = cases.record_outcome(engine, case_id, username=me, confirmed=confirmed, decision=decision,
                                               reason=reason, labels=choices)
                except MedvizError as exc:
                    st.error(plain(library_message(exc)))
                else:
                    record("outcome_recorded" if decision == "agree" else "override",
                           model=(c.model_name, c.model_version, c.model_sha256), case_id=case_id,
                           output_summary=f"decision {out.decision}; confirmed outcome recorded", dedupe=False)
                    flash(_(OUTCOME_RECORDED[decision]).format(case_id=case_id, confirmed=confirmed))
                    st.session_state["history_outcome_reset"] = True
                    st.rerun()
