"""The login gate app.py runs before every page, the sign-in / password pages, and the account sidebar.

Who is signed in lives only in ``st.session_state[AUTH_KEY]`` (server side; a browser cannot write it):
a dict with user_id, username, role, session_id, login_at and last_seen (epoch seconds). Every run
re-reads the account from the database, so a disabled account or a changed role takes effect at once.
Idle logoff: a run more than ``MEDVIZ_IDLE_MINUTES`` (default 15) after the last one signs the user out,
and a small timer fragment in the sidebar triggers that run even when nobody touches the page, so a
walked-away screen clears itself. Signing out clears the whole session state.
"""
from __future__ import annotations

import logging
import os
import time

import streamlit as st

from medviz import audit
from medviz import auth as accounts
from medviz.errors import InputError, MedvizError
from medviz.store import get_engine
from medviz.ui.common import INTENDED_USE

log = logging.getLogger(__name__)

AUTH_KEY = "auth_session"
NOTICE_KEY = "auth_notice"
ONE_TIME_KEY = "auth_one_time_password"


def _engine():
    return get_engine()


def session() -> dict | None:
    """The signed-in session dict, or None."""
    return st.session_state.get(AUTH_KEY)


def _idle_minutes() -> float:
    try:
        return accounts.idle_minutes()
    except InputError as exc:
        log.warning("%s; using %g minutes", exc, accounts.DEFAULT_IDLE_MINUTES)
        return accounts.DEFAULT_IDLE_MINUTES


def _audit(action: str, s: dict | None, *, username: str | None = None, role: str | None = None, summary: str = "") -> None:
    s = s or {}
    try:
        audit.record(
            _engine(), action, username=username or s.get("username", "?"), role=role or s.get("role", "none"),
            session_id=s.get("session_id"), output_summary=summary,
        )
    except Exception as exc:  # never let auditing break sign-in/out; say so in the server log
        log.error("audit record for %s failed: %s", action, type(exc).__name__)


def _start_session(user: accounts.User) -> None:
    st.session_state.clear()  # nothing from before sign-in survives into the session
    now = time.time()
    s = {
        "user_id": user.id, "username": user.username, "role": user.role,
        "session_id": accounts.new_session_id(), "login_at": now, "last_seen": now,
    }
    st.session_state[AUTH_KEY] = s
    _audit("login", s)


def _end_session(action: str, notice: str) -> None:
    s = session()
    if s:
        minutes = (time.time() - s.get("login_at", time.time())) / 60
        _audit(action, s, summary=f"session lasted {minutes:.1f} min")
    st.session_state.clear()
    st.session_state[NOTICE_KEY] = notice


def sign_out() -> None:
    """Button callback: record the logout and clear every key of this session."""
    _end_session("logout", "You have signed out.")


def current_user() -> accounts.User | None:
    """Validate the session: idle timeout, account still active; refresh last_seen. None if not signed in."""
    s = session()
    if not s:
        return None
    minutes = _idle_minutes()
    now = time.time()
    if accounts.is_idle(s["last_seen"], now, minutes):
        _end_session("session_timeout", f"You were signed out after {minutes:g} minutes without activity.")
        return None
    user = accounts.get_user(_engine(), s["user_id"])
    if user is None or not user.active:
        _end_session("logout", "Your account is no longer active. Ask an administrator.")
        return None
    s["last_seen"], s["role"] = now, user.role
    return user


def login_gate() -> accounts.User:
    """Run at the top of app.py: return the signed-in user, or show sign-in / forced password change and stop."""
    try:
        user = current_user()
    except MedvizError as exc:
        st.error(f"The account database cannot be used: {exc}")
        st.stop()
    if user is None:
        st.navigation([st.Page(sign_in_page, title="Sign in", icon="🔐")], position="hidden").run()
        st.stop()
    if user.must_change_password:
        st.navigation([st.Page(change_password_page, title="Change password", icon="🔑")], position="hidden").run()
        account_sidebar(user, picker=False)
        st.stop()
    return user


def require_signed_in() -> accounts.User:
    """First line of every page script: stop unless a user is signed in.

    app.py's :func:`login_gate` already guards every page it routes to, but Streamlit has a second
    router: while a freshly started server has not yet run app.py, a request for /<page> runs
    ``pages/<page>.py`` directly (its legacy pages/-directory mode) and app.py never executes. This
    check makes each page safe on its own.
    """
    try:
        user = current_user()
    except MedvizError as exc:
        st.error(f"The account database cannot be used: {exc}")
        st.stop()
    if user is None:
        sign_in_page()
        st.stop()
    if user.must_change_password:
        change_password_page()
        st.stop()
    return user


def require_admin() -> bool:
    """Pages for admins call this first (app.py already hides them from others)."""
    user = require_signed_in()
    if not user.is_admin:
        st.error("This page is for administrators.")
        return False
    return True


def sign_in_page() -> None:
    st.title("🩺 medviz — sign in")
    st.info(INTENDED_USE, icon="ℹ️")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.warning(notice)
    engine = _engine()
    one_time = st.session_state.pop(ONE_TIME_KEY, None)
    if one_time:
        _show_one_time_password(*one_time)
    elif accounts.count_users(engine) == 0:
        _first_start(engine)
        return
    with st.form("login_form"):
        username = st.text_input("User name", key="login_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            user = accounts.authenticate(engine, username, password)
        except MedvizError as exc:
            known = accounts.get_user_by_name(engine, (username or "").strip())
            # Only a real account name is recorded: a password typed into the name box must not be.
            _audit("login_failed", None, username=known.username if known else "(unknown user)", role=known.role if known else "none")
            st.error(str(exc))
            return
        _start_session(user)
        st.rerun()
    st.caption(f"Sessions end after {_idle_minutes():g} minutes without activity.")


def _first_start(engine) -> None:
    st.warning("No accounts exist yet: this is a fresh installation.")
    st.markdown(
        "Create the first administrator from a terminal in the project folder, then reload this page:\n\n"
        "```\npython -m medviz users add NAME --role admin\n```\n"
        "(the password is asked for at the prompt; clinicians are added the same way with `--role clinician`)."
    )
    if os.environ.get("MEDVIZ_ALLOW_BOOTSTRAP", "1").strip() == "0":
        return
    st.markdown("Or create an administrator called **admin** with a one-time password, shown here once; "
                "it must be changed at the first sign-in.")
    if st.button("Create a one-time administrator", key="login_bootstrap"):
        result = accounts.bootstrap_admin(engine)
        if result is None:
            st.info("An account was created meanwhile. Sign in, or ask the person who created it.")
        else:
            user, password = result
            _audit("user_created", None, username="setup", role="none", summary=f"one-time admin account {user.username}")
            st.session_state[ONE_TIME_KEY] = (user.username, password)
        st.rerun()


def _show_one_time_password(username: str, password: str) -> None:
    st.success(
        f"Administrator **{username}** created. Its one-time password is below; it is shown only now. "
        "Sign in with it; you will then choose your own password."
    )
    st.code(password, language=None)


def change_password_page() -> None:
    s = session() or {}
    st.title("🔑 Change your password")
    user = accounts.get_user(_engine(), s.get("user_id", -1))
    if user is not None and user.must_change_password:
        st.warning("You signed in with a one-time or reset password. Choose your own before continuing.")
    password_form(s)


def password_form(s: dict) -> None:
    st.caption(
        f"At least {accounts.MIN_PASSWORD} characters and 5 different characters; not containing your user "
        f"name; not a common password; hard to guess (strength {accounts.MIN_ZXCVBN_SCORE} of 4 or more by the "
        "zxcvbn estimator). A phrase of several uncommon words is easiest to remember."
    )
    with st.form("account_password_form", clear_on_submit=True):
        old = st.text_input("Current password", type="password", key="account_old_password")
        new = st.text_input("New password", type="password", key="account_new_password")
        again = st.text_input("Repeat the new password", type="password", key="account_new_password2")
        submitted = st.form_submit_button("Change password", type="primary")
    if submitted:
        if new != again:
            st.error("The two new passwords differ.")
            return
        try:
            accounts.change_password(_engine(), s.get("user_id", -1), old, new)
        except MedvizError as exc:
            st.error(str(exc))
            return
        _audit("password_change", s, summary="changed own password")
        st.success("Password changed.")
        st.rerun()


def account_page() -> None:
    s = session() or {}
    st.title("👤 Account")
    st.markdown(f"Signed in as **{s.get('username', '?')}** · role **{s.get('role', '?')}**")
    st.subheader("Change password")
    password_form(s)


def account_sidebar(user: accounts.User, *, picker: bool = True) -> None:
    """Who is signed in, the sign-out button, and the idle-logoff timer."""
    with st.sidebar:
        st.markdown("---")
        st.caption(f"Signed in as **{user.username}** ({user.role}) · signs out after {_idle_minutes():g} min idle")
        st.button("Sign out", key="auth_sign_out", on_click=sign_out, icon="🚪")
        _idle_watch()


def _idle_period() -> float:
    return max(10.0, min(60.0, _idle_minutes() * 60 / 4))


@st.fragment(run_every=_idle_period())
def _idle_watch() -> None:
    # Re-runs on a timer without counting as activity; once idle, a full run signs the user out.
    s = session()
    if s and accounts.is_idle(s["last_seen"], time.time(), _idle_minutes()):
        st.rerun(scope="app")
