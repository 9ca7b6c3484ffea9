"""Case history: save a case with the model's output; later record the confirmed outcome and whether you
agreed with the model (CLINICAL.md P10). Clinicians see their own cases only."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from medviz.errors import MedvizError
from medviz.store import cases, get_engine
from medviz.text.analyse import analyse_case
from medviz.ui import cache
from medviz.ui.audit_hooks import record, summarize_probabilities
from medviz.ui.auth import require_signed_in, session
from medviz.ui.cases import flash, outcome_problems, save_case, show_flash
from medviz.ui.common import current_bundle, intended_use_banner, plain
from medviz.ui.text_case import show_unscored_reading

OTHER = "Other (not in the model's list)…"

require_signed_in()
st.title("🗂️ Case history")
bundle = current_bundle()
intended_use_banner(bundle)
me = (session() or {}).get("username", "?")
engine = get_engine()
show_flash()

new_tab, saved_tab = st.tabs(["New case", "My saved cases"])

with new_tab:
    if bundle is None:
        st.info("Pick a model in the sidebar.")
    elif not bundle.is_text:
        st.info("Risk-model cases are saved from the Case page: enter the measurements, press Estimate risk, then "
                "'Save case for outcome feedback' under the result.")
    else:
        st.caption("Type the case as you would describe it. Do not enter names, dates of birth or record numbers: "
                   "the case is filed under a random case ID.")
        text = st.text_area("Case description", key="history_new_text", height=120)
        if st.button("Predict and save", key="history_new_save", type="primary"):
            st.session_state.pop("history_new_result", None)
            try:  # the same pipeline as the Case page: preprocessing, safety checks, whole note
                analysis = analyse_case(cache.text_predictor(str(bundle.path)), text)
            except MedvizError as exc:
                st.error(plain(exc))
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
                st.warning(plain(w), icon="⚠️")
            st.success(f"Saved as case **{plain(result[0])}** — {plain(result[1])}. Record the confirmed diagnosis under "
                       "'My saved cases' when it is known.")

with saved_tab:
    mine = cases.list_cases(engine, created_by=me, limit=2000)
    if not mine:
        st.info("You have not saved any cases yet.")
    else:
        table = pd.DataFrame([{
            "case ID": c.case_id,
            "saved (UTC)": c.created_at.strftime("%Y-%m-%d %H:%M"),
            "model": f"{c.model_name} v{c.model_version}",
            "model said": c.top_label if c.top_label is not None else (f"risk {c.risk:.2f}" if c.risk is not None else ""),
            "confirmed": c.outcome.confirmed if c.outcome else "",
            "your decision": c.outcome.decision if c.outcome else "",
            "encrypted": "yes" if c.encrypted else "no",
        } for c in mine])
        st.dataframe(table, hide_index=True, width="stretch")
        case_id = st.selectbox("Open a case", [c.case_id for c in mine], key="history_open_case")
        try:
            detail = cases.get_case(engine, case_id, decrypt=True)
        except MedvizError as exc:
            st.error(plain(exc))
            st.stop()
        c = detail.summary
        record("case_view", model=(c.model_name, c.model_version, c.model_sha256), case_id=case_id,
               output_summary="viewed a saved case")
        left, right = st.columns(2)
        with left:
            st.markdown("**Case as saved**")
            if isinstance(detail.content, dict):
                st.dataframe(pd.DataFrame({"field": list(detail.content), "value": ["blank (imputed)" if v is None else str(v)
                                                                       for v in detail.content.values()]}),
                             hide_index=True)
            else:
                st.text(detail.content)
            st.caption(f"Saved {c.created_at:%Y-%m-%d %H:%M} UTC with {plain(c.model_name)} v{plain(c.model_version)}.")
        with right:
            st.markdown("**What the model said then**")
            probs = c.prediction.get("probabilities")
            if probs:
                top = sorted(probs.items(), key=lambda kv: -kv[1])[:5]
                st.dataframe(pd.DataFrame({"diagnosis": [k for k, _ in top], "probability": [round(v, 3) for _, v in top]}),
                             hide_index=True)
                choices = sorted(probs)
            else:
                st.metric("Risk", f"{c.risk:.1%}")
                choices = list(c.prediction.get("labels") or
                               (bundle.labels if bundle is not None and bundle.name == c.model_name else []))
        for o in detail.outcomes:
            st.caption(f"{o.recorded_at:%Y-%m-%d %H:%M} UTC · {plain(o.recorded_by)}: confirmed **{plain(o.confirmed)}**, "
                       f"{plain(o.decision)}" + (f" — {plain(o.reason)}" if o.reason else ""))
        st.markdown("**Record the confirmed outcome**")
        form_keys = ("history_confirmed", "history_confirmed_other", "history_decision", "history_reason")
        if st.session_state.pop("history_outcome_reset", False):  # after a save: empty fields for the next one
            for k in form_keys:
                st.session_state.pop(k, None)
        # Nothing is preselected: the clinician chooses the outcome and the decision. The form keeps what
        # was entered when something is missing (no clear_on_submit) and says what.
        with st.form("history_outcome_form"):
            pick = st.selectbox("Confirmed diagnosis / outcome", choices + [OTHER], index=None, key="history_confirmed",
                                placeholder="Choose the confirmed diagnosis or outcome")
            other = st.text_input("If other: what was confirmed", key="history_confirmed_other")
            decision = st.radio("Your decision about the model's output", cases.DECISIONS, horizontal=True, index=None,
                                key="history_decision", format_func={"agree": "Agreed with it", "disagree": "Disagreed",
                                                                     "override": "Overrode it"}.get)
            reason = st.text_area("Reason (required when you disagreed or overrode)", key="history_reason", height=80)
            submitted = st.form_submit_button("Record outcome", type="primary")
        if submitted:
            problems = outcome_problems(pick, other, decision, reason, other_choice=OTHER)
            if problems:
                st.error("Not recorded yet — please complete: " + plain("; ".join(problems)) + ".")
            else:
                confirmed = other.strip() if pick == OTHER else pick
                try:
                    out = cases.record_outcome(engine, case_id, username=me, confirmed=confirmed, decision=decision,
                                               reason=reason, labels=choices)
                except MedvizError as exc:
                    st.error(plain(exc))
                else:
                    record("outcome_recorded" if decision == "agree" else "override",
                           model=(c.model_name, c.model_version, c.model_sha256), case_id=case_id,
                           output_summary=f"decision {out.decision}; confirmed outcome recorded", dedupe=False)
                    flash(f"Outcome recorded for case {case_id}: confirmed {confirmed}, you "
                          f"{ {'agree': 'agreed with', 'disagree': 'disagreed with', 'override': 'overrode'}[decision] } "
                          "the model.")
                    st.session_state["history_outcome_reset"] = True
                    st.rerun()
