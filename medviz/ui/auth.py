"""The login gate app.py runs before every page, the sign-in / password pages, and the account sidebar.

Who is signed in lives in ``st.session_state[AUTH_KEY]`` (server side; a browser cannot write it): a
dict with user_id, username, role, session_id (the audit trail's), row_id (the ``auth_sessions`` row),
login_at and last_seen (epoch seconds). Every run re-reads the account and the session row from the
database, so a disabled account, a changed role, a sign-out in another tab or an idle logoff takes
effect at once.

Sessions across refreshes and tabs (issue 17): a sign-in creates an ``auth_sessions`` row
(medviz/store/sessions.py). Under ``streamlit run server.py`` the page then posts the row's one-time
hand-off code to ``/_medviz/session`` (medviz/web.py), which sets the HttpOnly session cookie; a new
tab, a refresh or a reconnect without session state finds the user again from that cookie
(``st.context.cookies``, read server-side). Sign-out and idle logoff revoke the row, so the cookie dies
with it everywhere. Idle logoff: no activity in any tab of the session for ``MEDVIZ_IDLE_MINUTES``
(default 15); a small timer fragment in the sidebar checks even when nobody touches the page, so a
walked-away screen clears itself. Signing out clears the whole session state.
"""
from __future__ import annotations

import logging
import time

import streamlit as st

from medviz import audit
from medviz import auth as accounts
from medviz.errors import InputError, MedvizError
from medviz.i18n import N_, _
from medviz import web
from medviz.store import get_engine
from medviz.store import sessions as server_sessions
from medviz.ui import i18n as ui_i18n
from medviz.ui.common import INTENDED_USE, plain
from medviz.ui.messages import library_message, role_name

log = logging.getLogger(__name__)

AUTH_KEY = "auth_session"
NOTICE_KEY = "auth_notice"
ONE_TIME_KEY = "auth_one_time_password"
HANDOFF_KEY = "auth_cookie_handoff"  # one-time code the page exchanges for the HttpOnly cookie
CLEAR_COOKIE_KEY = "auth_cookie_clear"
TOUCH_EVERY_S = 5.0  # last_seen in the database is refreshed at most this often per tab
# Why a session ended: English templates (N_), translated when the sign-in page shows them. The session
# state keeps (template, minutes) so the notice speaks the language of the page that shows it.
END_NOTICES = {
    "idle": N_("You were signed out after {minutes:g} minutes without activity."),
    "expired": N_("Your session reached its maximum length. Please sign in again."),
    "logout": N_("You have signed out (in this or another tab)."),
}
SIGNED_OUT = N_("You have signed out.")
ACCOUNT_INACTIVE = N_("Your account is no longer active. Ask an administrator.")


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


def _clear_state(*, keep_choice: bool = True) -> None:
    """Clear every key of this tab's session state except its interface language (not patient data).

    ``keep_choice``: also keep "picked on the sign-in page" (at sign-in, not at sign-out: the next user of
    this tab must not inherit the previous user's language as their own stored choice)."""
    kept = {k: st.session_state[k] for k in ui_i18n.KEEP_KEYS if k in st.session_state}
    if not keep_choice:
        kept.pop(ui_i18n.CHOSEN_SIGNED_OUT_KEY, None)
    st.session_state.clear()
    st.session_state.update(kept)


def _start_session(user: accounts.User) -> None:
    _clear_state()  # nothing from before sign-in survives into the session (but its language)
    now = time.time()
    session_id = accounts.new_session_id()
    row_id, code = server_sessions.start(_engine(), user.id, session_id)
    s = {
        "user_id": user.id, "username": user.username, "role": user.role,
        "session_id": session_id, "row_id": row_id, "login_at": now, "last_seen": now, "touched": now,
    }
    st.session_state[AUTH_KEY] = s
    if web.ENABLED:
        st.session_state[HANDOFF_KEY] = code
    _audit("login", s)


def _end_session(action: str, notice: str, *, revoke: str | None = None, idle_minutes: float = 0.0) -> None:
    """End the session; ``notice`` (an English template, N_) is shown on the sign-in page, translated,
    with ``{minutes}`` = ``idle_minutes``."""
    s = session()
    if s:
        if revoke and s.get("row_id") is not None:
            try:
                server_sessions.revoke(_engine(), s["row_id"], revoke)
            except MedvizError as exc:
                log.error("session revoke failed: %s", type(exc).__name__)
        minutes = (time.time() - s.get("login_at", time.time())) / 60
        _audit(action, s, summary=f"session lasted {minutes:.1f} min")
    _bind_downloads(None)
    _clear_state(keep_choice=False)
    st.session_state[NOTICE_KEY] = (notice, idle_minutes)
    if web.ENABLED:
        st.session_state[CLEAR_COOKIE_KEY] = True


def sign_out() -> None:
    """Button callback: revoke the session server-side, record the logout, clear every key of this tab."""
    _end_session("logout", SIGNED_OUT, revoke="logout")


def _resume_from_cookie(minutes: float) -> dict | None:
    """A tab without session state (refresh, new tab, reconnect): the user named by a live session cookie."""
    if not web.ENABLED:
        return None
    try:
        value = st.context.cookies.get(server_sessions.COOKIE_NAME)
    except Exception:  # no browser context (bare script runs)
        return None
    if not value:
        return None
    state = server_sessions.check_cookie(_engine(), value, minutes)
    if not state.ok:
        if state.row_id is not None:  # a session that ended: say why once, and drop the dead cookie
            if state.reason in ("idle", "expired"):
                server_sessions.revoke(_engine(), state.row_id, state.reason)
            st.session_state[NOTICE_KEY] = (END_NOTICES.get(state.reason, END_NOTICES["logout"]), minutes)
            st.session_state[CLEAR_COOKIE_KEY] = True
        return None
    user = accounts.get_user(_engine(), state.user_id)
    if user is None or not user.active:
        return None
    now = time.time()
    s = {
        "user_id": user.id, "username": user.username, "role": user.role, "session_id": state.audit_session_id,
        "row_id": state.row_id, "login_at": state.created_at.timestamp(), "last_seen": now, "touched": 0.0,
    }
    st.session_state[AUTH_KEY] = s
    return s


def current_user() -> accounts.User | None:
    """Validate the session: idle timeout, account still active; refresh last_seen. None if not signed in."""
    minutes = _idle_minutes()
    s = session() or _resume_from_cookie(minutes)
    if not s:
        return None
    now = time.time()
    row_id = s.get("row_id")
    if row_id is not None:  # the server-side session: shared by every tab, ended by sign-out anywhere
        state = server_sessions.check(_engine(), row_id, minutes)
        if not state.ok:
            reason = state.reason or "logout"
            _end_session("session_timeout" if reason in ("idle", "expired") else "logout",
                         END_NOTICES.get(reason, END_NOTICES["logout"]), idle_minutes=minutes,
                         revoke=reason if reason in ("idle", "expired") else None)
            return None
    elif accounts.is_idle(s["last_seen"], now, minutes):  # a tab-only session (no row: bare AppTest runs)
        _end_session("session_timeout", END_NOTICES["idle"], idle_minutes=minutes)
        return None
    user = accounts.get_user(_engine(), s["user_id"])
    if user is None or not user.active:
        _end_session("logout", ACCOUNT_INACTIVE, revoke="account_disabled")
        return None
    s["last_seen"], s["role"] = now, user.role
    if row_id is not None and now - s.get("touched", 0.0) >= TOUCH_EVERY_S:
        server_sessions.touch(_engine(), row_id)
        s["touched"] = now
    _bind_downloads(row_id)
    return user


def _bind_downloads(row_id: int | None) -> None:
    """Tie this tab's downloads to its signed-in session (medviz.web.DownloadGuard serves a file only to
    the session whose tab produced it)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and web.ENABLED:
        web.bind_streamlit_session(ctx.session_id, row_id)


def remember_tab_downloads() -> None:
    """After a page run: the download files this tab now holds stay tied to its signed-in session even
    when a later rerun (a download click reruns the page) unmaps them (medviz.web.remember_tab_files)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and web.ENABLED:
        web.remember_tab_files(ctx.session_id)


def login_gate(url_paths=()) -> accounts.User:
    """Run at the top of app.py: return the signed-in user, or show sign-in / forced password change and stop.

    ``url_paths``: the app's page addresses; signed out, each of them shows the sign-in form (instead of
    Streamlit's "page not found"), so after signing in the address asked for opens.
    """
    try:
        user = current_user()
    except MedvizError as exc:
        st.error(_("The account database cannot be used: {reason}").format(reason=plain(exc)))
        st.stop()
    if user is None:
        _clear_cookie_if_asked()
        pages = [st.Page(sign_in_page, title=_("Sign in"), icon="🔐", default=True)]
        pages += [st.Page(sign_in_page, title=_("Sign in"), icon="🔐", url_path=p) for p in url_paths if p]
        st.navigation(pages, position="hidden").run()
        st.stop()
    _hand_off_cookie()
    if user.must_change_password:
        st.navigation([st.Page(change_password_page, title=_("Change password"), icon="🔑")], position="hidden").run()
        account_sidebar(user, picker=False)
        st.stop()
    return user


def _post_from_page(path: str, code: str = "") -> None:
    """Have the browser POST to one of medviz's own routes (medviz/web.py) so it can set or clear the
    HttpOnly cookie: a Streamlit script cannot answer an HTTP request itself. Our script, no user text."""
    body = f"new URLSearchParams({{code: {code!r}}})" if code else "''"  # i18n: not shown (JavaScript for the browser)
    st.html(f"<script>fetch({path!r}, {{method: 'POST', credentials: 'same-origin', body: {body}}});</script>",
            unsafe_allow_javascript=True)


def _hand_off_cookie() -> None:
    code = st.session_state.pop(HANDOFF_KEY, None)
    if code and web.ENABLED:
        _post_from_page(web.SESSION_PATH, code)


def _clear_cookie_if_asked() -> None:
    if st.session_state.pop(CLEAR_COOKIE_KEY, None) and web.ENABLED:
        _post_from_page(web.LOGOUT_PATH)


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
        st.error(_("The account database cannot be used: {reason}").format(reason=plain(exc)))
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
        st.error(_("This page is for administrators."))
        return False
    return True


def sign_in_page() -> None:
    ui_i18n.language_picker()
    st.title("🩺 " + _("medviz — sign in"))
    st.info(_(INTENDED_USE), icon="ℹ️")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        template, minutes = notice if isinstance(notice, tuple) else (notice, 0.0)
        st.warning(_(template).format(minutes=minutes))
    engine = _engine()
    one_time = st.session_state.pop(ONE_TIME_KEY, None)
    if one_time:
        _show_one_time_password(*one_time)
    elif accounts.count_users(engine) == 0:
        _first_start(engine)
        return
    with st.form("login_form"):
        username = st.text_input(_("User name"), key="login_username", autocomplete="username")
        password = st.text_input(_("Password"), type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button(_("Sign in"), type="primary")
    if submitted:
        try:
            user = accounts.authenticate(engine, username, password)
        except MedvizError as exc:
            known = accounts.get_user_by_name(engine, (username or "").strip())
            # Only a real account name is recorded: a password typed into the name box must not be.
            _audit("login_failed", None, username=known.username if known else "(unknown user)", role=known.role if known else "none")
            st.error(plain(library_message(exc)))
            return
        _start_session(user)
        st.rerun()
    st.caption(_("Sessions end after {minutes:g} minutes without activity.").format(minutes=_idle_minutes())
               + ("" if web.ENABLED else " " + _("This server was started with `streamlit run app.py`: a refresh or a new "
                  "tab asks you to sign in again (start it with `streamlit run server.py` to keep the session).")))


def _first_start(engine) -> None:
    st.warning(_("No accounts exist yet: this is a fresh installation."))
    st.markdown(
        _("Create the first administrator from a terminal in the project folder, then reload this page:") + "\n\n"
        "```\npython -m medviz users add NAME --role admin\n```\n"
        + _("(the password is asked for at the prompt; clinicians are added the same way with `--role clinician`).")
    )
    from medviz.config import settings

    if not settings().allow_bootstrap:  # setting allow_bootstrap / MEDVIZ_ALLOW_BOOTSTRAP=0
        return
    st.markdown(_("Or create an administrator called **admin** with a one-time password, shown here once; "
                  "it must be changed at the first sign-in."))
    if st.button(_("Create a one-time administrator"), key="login_bootstrap"):
        result = accounts.bootstrap_admin(engine)
        if result is None:
            st.info(_("An account was created meanwhile. Sign in, or ask the person who created it."))
        else:
            user, password = result
            _audit("user_created", None, username="setup", role="none", summary=f"one-time admin account {user.username}")
            st.session_state[ONE_TIME_KEY] = (user.username, password)
        st.rerun()


def _show_one_time_password(username: str, password: str) -> None:
    st.success(
        _("Administrator **{name}** created. Its one-time password is below; it is shown only now. "
          "Sign in with it; you will then choose your own password.").format(name=plain(username))
    )
    st.code(password, language=None)


def change_password_page() -> None:
    s = session() or {}
    st.title("🔑 " + _("Change your password"))
    user = accounts.get_user(_engine(), s.get("user_id", -1))
    if user is not None and user.must_change_password:
        st.warning(_("You signed in with a one-time or reset password. Choose your own before continuing."))
    password_form(s)


def password_form(s: dict) -> None:
    st.caption(
        _("At least {min_length} characters and 5 different characters; not containing your user "
          "name; not a common password; hard to guess (strength {score} of 4 or more by the "
          "zxcvbn estimator). A phrase of several uncommon words is easiest to remember.").format(
            min_length=accounts.MIN_PASSWORD, score=accounts.MIN_ZXCVBN_SCORE)
    )
    with st.form("account_password_form", clear_on_submit=True):
        old = st.text_input(_("Current password"), type="password", key="account_old_password")
        new = st.text_input(_("New password"), type="password", key="account_new_password")
        again = st.text_input(_("Repeat the new password"), type="password", key="account_new_password2")
        submitted = st.form_submit_button(_("Change password"), type="primary")
    if submitted:
        if new != again:
            st.error(_("The two new passwords differ."))
            return
        try:
            accounts.change_password(_engine(), s.get("user_id", -1), old, new)
        except MedvizError as exc:
            st.error(plain(library_message(exc)))
            return
        _audit("password_change", s, summary="changed own password")
        st.success(_("Password changed."))
        st.rerun()


def account_page() -> None:
    s = session() or {}
    st.title("👤 " + _("Account"))
    st.markdown(_("Signed in as **{name}** · role **{role}**").format(
        name=plain(s.get('username', '?')), role=plain(role_name(s.get('role', '?')))))
    st.subheader(_("Change password"))
    password_form(s)


def account_sidebar(user: accounts.User, *, picker: bool = True) -> None:
    """Who is signed in, the sign-out button, and the idle-logoff timer."""
    with st.sidebar:
        st.markdown("---")
        st.caption(_("Signed in as **{name}** ({role}) · signs out after {minutes:g} min idle").format(
            name=plain(user.username), role=plain(role_name(user.role)), minutes=_idle_minutes()))
        st.button(_("Sign out"), key="auth_sign_out", on_click=sign_out, icon="🚪")
        _idle_watch()


def _idle_period() -> float:
    return max(10.0, min(60.0, _idle_minutes() * 60 / 4))


@st.fragment(run_every=_idle_period())
def _idle_watch() -> None:
    # Re-runs on a timer without counting as activity; once idle (in every tab of the session, or ended
    # elsewhere), a full run signs the user out.
    s = session()
    if not s:
        return
    if s.get("row_id") is not None and web.ENABLED:
        try:
            state = server_sessions.check(_engine(), s["row_id"], _idle_minutes())
        except MedvizError:
            return
        if state.ok:
            return
        if state.reason in ("idle", "expired") and server_sessions.revoke(_engine(), s["row_id"], state.reason):
            minutes = (time.time() - s.get("login_at", time.time())) / 60
            _audit("session_timeout", s, summary=f"session lasted {minutes:.1f} min")
        # Reload the page rather than st.rerun(scope="app") from this fragment: Streamlit's frontend can
        # crash to a blank page ("Bad delta path index") when a timer fragment's rerun replaces the whole
        # page with the sign-in page. The reloaded tab finds the ended session through the cookie and
        # shows why it ended (_resume_from_cookie).
        st.html("<script>window.location.reload();</script>", unsafe_allow_javascript=True)
    elif s.get("row_id") is not None:
        try:
            ended = not server_sessions.check(_engine(), s["row_id"], _idle_minutes()).ok
        except MedvizError:
            ended = False
        if ended:
            st.rerun(scope="app")
    elif accounts.is_idle(s["last_seen"], time.time(), _idle_minutes()):
        st.rerun(scope="app")
