"""The tiny audit API pages call. It never raises into the page.

    from medviz.ui.audit_hooks import record
    record("prediction", bundle=bundle, input_obj=text, output_summary=summarize_probabilities(bundle.labels, probs),
           warnings=[...])

``input_obj`` is hashed (SHA-256), never stored: a str, bytes, an UploadedFile, a DataFrame or a dict.
``model`` = (name, version, sha256) when no bundle object is at hand. User, role and session come from the signed-in session. Streamlit re-runs a page on every click; an
event identical to one of the last 32 this session recorded (same action, model, input, output, case)
is not recorded again, so a re-render is not a second prediction. Pass ``dedupe=False`` to record anyway.
Returns True when recorded (or skipped as a repeat), False if the trail could not be written — then a
warning is shown on the page and an error (without patient data) goes to the server log.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import streamlit as st

from medviz import audit
from medviz.audit import summarize_probabilities, summarize_risk  # noqa: F401  (re-exported for pages)
from medviz.i18n import _
from medviz.store import get_engine
from medviz.ui.auth import session

log = logging.getLogger(__name__)
_RECENT_KEY = "audit_recent_events"
_RECENT_MAX = 32


def record(
    action: str,
    *,
    bundle: Any = None,
    model: tuple[str, str, str] | None = None,
    input_obj: Any = None,
    output_summary: str = "",
    warnings: Iterable[Any] = (),
    case_id: str | None = None,
    dedupe: bool = True,
) -> bool:
    try:
        s = session() or {}
        event = audit.AuditEvent.build(
            action, username=s.get("username", "(not signed in)"), role=s.get("role", "none"),
            session_id=s.get("session_id"), case_id=case_id, bundle=bundle, model=model, input_obj=input_obj,
            output_summary=output_summary, warnings=warnings,
        )
        recent = st.session_state.setdefault(_RECENT_KEY, [])
        if dedupe and event in recent:
            return True
        audit.append(get_engine(), event)
        recent.append(event)
        del recent[:-_RECENT_MAX]
        return True
    except Exception as exc:  # the page must go on; the failure is visible and logged without content
        log.error("audit record for action %.32r failed: %s", action, type(exc).__name__)
        try:
            st.warning(_("This action could not be written to the audit trail. Please tell an administrator."), icon="⚠️")
        except Exception:  # pragma: no cover - outside a Streamlit run
            pass
        return False
