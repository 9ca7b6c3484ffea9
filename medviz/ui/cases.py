"""Case-saving widget shared by the Case and History pages (one line on the Case page), the outcome
form's checks, and one-shot confirmations that survive the rerun after a save."""
from __future__ import annotations

from typing import Any, Mapping

import streamlit as st

from medviz.audit import summarize_probabilities, summarize_risk
from medviz.errors import MedvizError
from medviz.i18n import N_, _
from medviz.store import cases, get_engine
from medviz.store.cases import risk_prediction, text_prediction  # noqa: F401  (for pages)
from medviz.ui.audit_hooks import record
from medviz.ui.auth import session
from medviz.ui.common import plain
from medviz.ui.messages import library_message


# what medviz.text.vocab.remove_identifiers found, as the page names it (never the text found)
_IDENTIFIER_KINDS = {"name": N_("a name after a title or a name field"), "email": N_("an e-mail address"),
                     "date": N_("a date"), "phone": N_("a phone number"), "mrn": N_("a record number or code")}


def save_case(bundle: Any, content: str | Mapping[str, Any], prediction: Mapping[str, Any]) -> str | None:
    """Save a case now; record it in the audit trail; return its pseudonymous ID (None on error, shown).

    A case text is saved without the identifiers :func:`medviz.text.vocab.remove_identifiers` finds (a name after a
    title or a name field, e-mails, dates, phone and record numbers: a pasted letter's header), and the page says
    which kinds were removed; the prediction saved is the one shown (computed on the text as typed)."""
    s = session() or {}
    if isinstance(content, str):
        from medviz.text.vocab import remove_identifiers

        content, kinds = remove_identifiers(content)
        if kinds:
            st.info(_("Removed before saving: {kinds}. A name without a title is not found: check the saved text on "
                      "the Case history page.").format(kinds=", ".join(_(_IDENTIFIER_KINDS[k]) for k in kinds)), icon="🔒")
    try:
        saved = cases.save_case(get_engine(), username=s.get("username", "?"), content=content, bundle=bundle,
                                prediction=prediction)
    except MedvizError as exc:
        st.error(plain(library_message(exc)))
        return None
    summary = _summary(bundle, prediction)
    record("case_saved", bundle=bundle, input_obj=content if isinstance(content, str) else dict(content),
           output_summary=summary, case_id=saved.case_id, dedupe=False)
    return saved.case_id


def _summary(bundle: Any, prediction: Mapping[str, Any]) -> str:
    if "probabilities" in prediction:
        probs = prediction["probabilities"]
        return summarize_probabilities(list(probs), list(probs.values()))
    return summarize_risk(prediction["risk"], prediction.get("band"))


FLASH_KEY = "records_flash"


def flash(message: str) -> None:
    """Keep a confirmation for the next run (a save is usually followed by ``st.rerun()``)."""
    st.session_state[FLASH_KEY] = message


def show_flash() -> None:
    """Show, once, the confirmation kept by :func:`flash` (plain text)."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(plain(message), icon="✅")


def outcome_problems(pick: str | None, other: str, decision: str | None, reason: str, *, other_choice: str) -> list[str]:
    """What is missing or wrong in the outcome form, one entry per field (empty list = can be saved).

    ``pick``: the chosen confirmed diagnosis (None when nothing was chosen; ``other_choice`` means the
    typed ``other`` text is the diagnosis); ``decision``: one of :data:`medviz.store.cases.DECISIONS` or None.
    """
    problems = []
    if pick is None:
        problems.append(_("Confirmed diagnosis / outcome: choose one (or 'Other' and type it)"))
    elif pick == other_choice and not other.strip():
        problems.append(_("If other, what was confirmed: type the confirmed diagnosis"))
    elif pick == other_choice and len(other.strip()) > 128:
        problems.append(_("If other, what was confirmed: at most 128 characters (got {n})").format(n=len(other.strip())))
    if decision is None:
        problems.append(_("Your decision about the model's output: choose agreed, disagreed or overrode"))
    elif decision != "agree" and not reason.strip():
        problems.append(_("Reason: required because you overrode the model — say why") if decision == "override"
                        else _("Reason: required because you disagreed with the model — say why"))
    if len(reason.strip()) > cases.MAX_REASON:
        problems.append(_("Reason: at most {limit} characters (got {n})").format(limit=cases.MAX_REASON, n=len(reason.strip())))
    return problems


def save_case_button(bundle: Any, content: str | Mapping[str, Any], prediction: Mapping[str, Any], *, key: str) -> str | None:
    """A 'Save case' button under a result. ``prediction``: cases.text_prediction(labels, probs) or
    cases.risk_prediction(risk). Shows the new case ID so outcome feedback can be recorded later."""
    done_key = f"{key}_saved_id"
    if st.button("💾 " + _("Save case for outcome feedback"), key=key, help=_("Saved under a random pseudonymous case ID; "
                 "record the confirmed diagnosis later on the Case history page.")):
        st.session_state[done_key] = save_case(bundle, content, prediction)
    case_id = st.session_state.get(done_key)
    if case_id:
        st.success(_("Saved as case **{case_id}**. Record the confirmed outcome later on the Case history page.").format(
            case_id=plain(case_id)),
                   icon="✅")
    return case_id
