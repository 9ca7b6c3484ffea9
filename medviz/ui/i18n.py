"""The interface language in Streamlit: one per session, picked in the sidebar, stored with the account.

``st.session_state[LANG_KEY]`` (owned here) holds the session's language code; :mod:`medviz.i18n` reads
it through the provider registered below, so ``_()`` anywhere in a session's script run speaks that
session's language and never another's. A signed-in user's choice is stored in ``users.language``
(medviz/store/preferences.py) and loaded the first time a session knows who the user is, so it survives
sign-out, a new browser or another machine.
"""
from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from medviz import i18n
from medviz.errors import MedvizError
from medviz.i18n import _
from medviz.store import get_engine
from medviz.store import preferences

log = logging.getLogger(__name__)

LANG_KEY = "i18n_language"  # the session's language code
LOADED_KEY = "i18n_loaded_for"  # user id whose stored language was read into this session
PICKER_KEY = "i18n_language_picker"
CHOSEN_SIGNED_OUT_KEY = "i18n_chosen_signed_out"  # picked on the sign-in page: becomes the account's if it has none
KEEP_KEYS = (LANG_KEY, CHOSEN_SIGNED_OUT_KEY)  # survive the session-state clear at sign-in (medviz.ui.auth)


def _session_language() -> str | None:
    if get_script_run_ctx(suppress_warning=True) is None:  # not inside a Streamlit script run
        return None
    try:
        return st.session_state.get(LANG_KEY)
    except Exception:  # session state unavailable (bare script runs)
        return None


i18n.set_language_provider(_session_language)


def load_user_language(user) -> str:
    """Once per session and user: take the account's stored language (if any) as the session's."""
    if st.session_state.get(LOADED_KEY) != user.id:
        st.session_state[LOADED_KEY] = user.id
        try:
            stored = preferences.get_language(get_engine(), user.id)
        except MedvizError as exc:
            log.error("reading the stored language failed: %s", type(exc).__name__)
            stored = None
        if stored in i18n.LANGUAGES:
            st.session_state[LANG_KEY] = stored
        elif st.session_state.get(CHOSEN_SIGNED_OUT_KEY) and st.session_state.get(LANG_KEY) in i18n.LANGUAGES:
            _store(user.id, st.session_state[LANG_KEY])  # picked on the sign-in page: the account had none
        st.session_state.pop(CHOSEN_SIGNED_OUT_KEY, None)
    return i18n.current_language()


def _store(user_id: int | None, code: str) -> None:
    if user_id is None:
        return
    try:
        preferences.set_language(get_engine(), user_id, code)
    except MedvizError as exc:
        log.error("storing the language failed: %s", type(exc).__name__)


def _changed() -> None:
    """Picker callback (runs before the rerun, so the whole next run is in the new language)."""
    from medviz.ui.auth import session  # late: medviz.ui.auth imports this module

    code = st.session_state.get(PICKER_KEY)
    if code in i18n.LANGUAGES:
        st.session_state[LANG_KEY] = code
        user_id = (session() or {}).get("user_id")
        if user_id is None:
            st.session_state[CHOSEN_SIGNED_OUT_KEY] = True
        _store(user_id, code)  # signed in: remember it with the account


def language_picker() -> str:
    """The sidebar's language selector (every page, and the sign-in page). Returns the active code."""
    codes = list(i18n.LANGUAGES)
    current = i18n.current_language()

    if st.session_state.get(PICKER_KEY) != current:
        st.session_state[PICKER_KEY] = current
    with st.sidebar:
        # Language names are written in their own language (i18n.LANGUAGES): anyone can find theirs.
        st.selectbox(_("Language"), codes, format_func=i18n.LANGUAGES.get, key=PICKER_KEY, on_change=_changed)
    return current


def warm_reader() -> None:
    """At the end of a script run (app.py), once the page is on screen: in a Chinese session, start building
    the Chinese clinical reader in the background (once per process; medviz.text.clinical.warm), so the
    session's first Chinese case does not wait ~5 s for it. English sessions never pay for it."""
    if i18n.current_language() == "zh_CN":
        from medviz.text.clinical.warm import warm_in_background

        warm_in_background("zh_CN")
