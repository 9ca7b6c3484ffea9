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
  unless the request carries the cookie of a live session, so a copied download URL is useless to
  anyone else, and after sign-out, idle logoff or expiry.

Nothing here touches patient data; the DB calls run in Starlette's thread pool.
"""
from __future__ import annotations

import logging
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


def cookie_session_ok(cookie_value: str | None) -> bool:
    """True when the cookie names a live session (signature, row not revoked, not idle, not expired)."""
    from medviz.store import get_engine, sessions

    if not cookie_value:
        return False
    try:
        return sessions.check_cookie(get_engine(), cookie_value, _idle_minutes()).ok
    except Exception as exc:  # database down: refuse, say why in the server log only
        log.error("session check failed: %s", type(exc).__name__)
        return False


class DownloadGuard:
    """ASGI middleware: ``/media/…`` only for a request with a live session cookie."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path", "").startswith(PROTECTED_PREFIXES):
            from starlette.concurrency import run_in_threadpool
            from starlette.responses import PlainTextResponse

            from medviz.store.sessions import COOKIE_NAME

            value = _cookie_from_scope(scope, COOKIE_NAME)
            if not await run_in_threadpool(cookie_session_ok, value):
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
