"""HTTP side of the dashboard: the session-cookie routes and the download guard, mounted by server.py.

Streamlit 1.67's ``st.App`` (Starlette) takes extra routes and ASGI middleware; ``streamlit run
server.py`` serves app.py through it (docs: https://docs.streamlit.io/develop/api-reference/server/st.app).
Streamlit's own websocket cannot set an HttpOnly cookie, so:

* ``POST /_medviz/session`` — body ``code=<one-time hand-off code>``; the signed-in page posts it right
  after sign-in (:func:`medviz.ui.auth`). Claims it (``medviz.store.sessions.claim``) and answers 204 with
  ``Set-Cookie: medviz_session=…; HttpOnly; SameSite=Strict; Path=/`` (``Secure`` behind TLS). 403 for a
  wrong, used or expired code or a cross-site request.
* ``POST /_medviz/logout`` — revokes the cookie's session and deletes the cookie (sign-out already
  revoked it server-side; this also clears the browser).
* a pure-ASGI middleware answers 403 to ``/media/…`` (where ``st.download_button`` files are served)
  unless the request carries the cookie of a live session **and** that session produced the file: a
  Streamlit session that put the file on its page (Streamlit's media manager records which session
  holds which file) and is signed in under the same ``auth_sessions`` row (recorded here on every
  signed-in run, :func:`bind_streamlit_session`). So a copied download URL is useless to anyone else —
  another signed-in user included — and after sign-out, idle logoff or expiry.

Nothing here touches patient data; the DB calls run in Starlette's thread pool.
"""
from __future__ import annotations

import logging
import threading
from http.cookies import SimpleCookie
from typing import Any

log = logging.getLogger(__name__)

SESSION_PATH = "/_medviz/session"
LOGOUT_PATH = "/_medviz/logout"
PROTECTED_PREFIXES = ("/media/",)

# Set when server.py builds the st.App, i.e. the cookie routes exist in this process; app.py then
# hands each new sign-in to the browser as a cookie. Under a plain ``streamlit run app.py`` it stays
# False and a session lives in the tab only (the sign-in page says so).
ENABLED = False


def _cookie_from_scope(scope: dict[str, Any], name: str) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header: treat as no cookie
                return None
            if name in jar:
                return jar[name].value
    return None


def _idle_minutes() -> float:
    from medviz import auth

    try:
        return auth.idle_minutes()
    except Exception:
        return auth.DEFAULT_IDLE_MINUTES


_OWNERS: dict[str, int] = {}  # Streamlit session id -> auth_sessions row id of its signed-in user
_OWNERS_LOCK = threading.Lock()
_MAX_OWNERS = 100_000  # a bound on memory; entries of sessions long gone are dropped oldest first
# Media file id -> auth_sessions row id of the signed-in session whose tab held it at the start of a run.
# Needed because a download click reruns the page: when the rerun draws no button at the same place,
# Streamlit unmaps the file from the tab (it stays served until cleaned up) while the browser's request
# for it may still be on its way, and the page's own download was then refused (seen in the browser suite).
_FILE_ROWS: dict[str, int] = {}


def remember_tab_files(streamlit_session_id: str) -> None:
    """Record the files a signed-in tab holds at the end of its run as produced by its session (app.py
    calls this after every page run, st.stop included)."""
    with _OWNERS_LOCK:
        row_id = _OWNERS.get(streamlit_session_id)
    if row_id is not None:
        _remember_files(streamlit_session_id, row_id)


def _remember_files(streamlit_session_id: str, row_id: int) -> None:
    """Record the files the tab holds now as produced by ``row_id``."""
    mgr = _media_manager()
    mapping = getattr(mgr, "_files_by_session_and_coord", None)
    lock = getattr(mgr, "_lock", None)
    if mapping is None or lock is None:
        return
    with lock:
        ids = list((mapping.get(streamlit_session_id) or {}).values())
    with _OWNERS_LOCK:
        for file_id in ids:
            _FILE_ROWS.pop(file_id, None)
            _FILE_ROWS[file_id] = int(row_id)
        while len(_FILE_ROWS) > _MAX_OWNERS:
            _FILE_ROWS.pop(next(iter(_FILE_ROWS)))


def bind_streamlit_session(streamlit_session_id: str, row_id: int | None) -> None:
    """Record which signed-in session (``auth_sessions`` row, None = signed out) a Streamlit session
    (one browser tab's websocket) belongs to; called on every signed-in run (medviz.ui.auth)."""
    with _OWNERS_LOCK:
        if row_id is None:
            _OWNERS.pop(streamlit_session_id, None)
            return
        _OWNERS.pop(streamlit_session_id, None)
        _OWNERS[streamlit_session_id] = int(row_id)
        while len(_OWNERS) > _MAX_OWNERS:
            _OWNERS.pop(next(iter(_OWNERS)))


def _media_manager():
    from streamlit.runtime import Runtime

    return Runtime.instance().media_file_mgr if Runtime.exists() else None


def file_sessions(file_id: str, manager=None) -> set[str]:
    """The Streamlit sessions that have the media file ``file_id`` on their page now.

    Reads Streamlit's ``MediaFileManager._files_by_session_and_coord`` (session -> element -> file id,
    Streamlit 1.67; not a public API: tests/test_web_downloads.py fails if it changes). Empty when the
    manager or the mapping is missing, so a download is then refused, never served to anyone."""
    mgr = manager if manager is not None else _media_manager()
    mapping = getattr(mgr, "_files_by_session_and_coord", None)
    lock = getattr(mgr, "_lock", None)
    if mapping is None or lock is None:
        log.error("cannot tell which session holds a download (Streamlit's media manager changed); refusing it")
        return set()
    with lock:
        return {sid for sid, coords in mapping.items() if file_id in coords.values()}


def download_allowed(path: str, cookie_value: str | None, manager=None) -> bool:
    """True when ``cookie_value`` names a live session that produced the file at ``path`` (``/media/<id>.<ext>``)."""
    from medviz.store import get_engine, sessions

    if not cookie_value:
        return False
    try:
        state = sessions.check_cookie(get_engine(), cookie_value, _idle_minutes())
    except Exception as exc:  # database down: refuse, say why in the server log only
        log.error("session check failed: %s", type(exc).__name__)
        return False
    if not state.ok or state.row_id is None:
        return False
    file_id = path.rsplit("/", 1)[-1].split(".", 1)[0]
    owners = file_sessions(file_id, manager)
    with _OWNERS_LOCK:
        return (any(_OWNERS.get(sid) == state.row_id for sid in owners)
                or _FILE_ROWS.get(file_id) == state.row_id)  # produced here, unmapped by a rerun since


class DownloadGuard:
    """ASGI middleware: ``/media/…`` only for the live signed-in session that produced the file."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path", "").startswith(PROTECTED_PREFIXES):
            from starlette.concurrency import run_in_threadpool
            from starlette.responses import PlainTextResponse

            from medviz.store.sessions import COOKIE_NAME

            value = _cookie_from_scope(scope, COOKIE_NAME)
            if not await run_in_threadpool(download_allowed, scope.get("path", ""), value):
                response = PlainTextResponse("Sign in to download this file.", status_code=403,
                                             headers={"Cache-Control": "no-store"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _same_origin(request) -> bool:
    """A browser's own fetch from this site (Fetch Metadata, else Origin vs Host)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser cross-site request (browsers send Origin on POST)
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _secure(request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


async def session_route(request):
    """POST /_medviz/session: one-time hand-off code -> HttpOnly session cookie."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    from medviz.store import get_engine, sessions

    if not _same_origin(request):
        return Response(status_code=403)
    form = await request.form()
    code = str(form.get("code") or "")
    token = await run_in_threadpool(lambda: sessions.claim(get_engine(), code))
    if token is None:
        return Response(status_code=403, headers={"Cache-Control": "no-store"})
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.set_cookie(sessions.COOKIE_NAME, sessions.sign_token(token), max_age=int(sessions.session_hours() * 3600),
                        path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


async def logout_route(request):
    """POST /_medviz/logout: revoke the cookie's session and delete the cookie."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    from medviz.store import get_engine, sessions

    if not _same_origin(request):
        return Response(status_code=403)
    value = request.cookies.get(sessions.COOKIE_NAME)

    def _revoke() -> None:
        state = sessions.check_cookie(get_engine(), value, float("inf"))
        if state.row_id is not None:
            sessions.revoke(get_engine(), state.row_id, "logout")

    await run_in_threadpool(_revoke)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


def routes() -> list:
    from starlette.routing import Route

    return [Route(SESSION_PATH, session_route, methods=["POST"]), Route(LOGOUT_PATH, logout_route, methods=["POST"])]


def middleware() -> list:
    from starlette.middleware import Middleware

    return [Middleware(DownloadGuard)]
