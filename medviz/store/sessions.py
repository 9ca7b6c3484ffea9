"""Server-side sign-in sessions behind the HttpOnly session cookie (table ``auth_sessions``).

A session row is created when a user signs in through the Streamlit form. The browser cannot be given
an HttpOnly cookie over Streamlit's websocket, so the row first carries a one-time **hand-off code**
(random, 60 s, single use, stored as its SHA-256): the page posts it to ``/_medviz/session``
(``medviz/web.py``), which claims it with one atomic UPDATE, generates the session **token** (32
random bytes; only its SHA-256 is stored) and answers with ``Set-Cookie: medviz_session=<token signed
with itsdangerous>; HttpOnly; SameSite=Strict; Path=/``. Refresh, a second tab or a reconnect then
finds the user again from the cookie (``st.context.cookies``) without a new sign-in.

A session ends — ``revoked_at`` and a reason set, so the cookie is worthless from then on, whatever the
browser keeps — on sign-out (``logout``), idle logoff (``idle``: ``last_seen`` older than the idle
limit; ``last_seen`` is shared by every tab of the session), its absolute lifetime (``expires_at``,
default 12 h, ``MEDVIZ_SESSION_HOURS``) or a disabled account.

The cookie is signed (HMAC-SHA1 via itsdangerous' ``URLSafeTimedSerializer``, with a timestamp checked
against the lifetime) with a secret from ``MEDVIZ_SESSION_SECRET`` or, by default, a 32-byte key file
created on first use with owner-only permissions (``MEDVIZ_SESSION_KEY_FILE``, default ``session.key``
in the data folder; all read through :mod:`medviz.config`). The signature stops a forged or truncated cookie
before any database lookup; the database row is what makes sign-out and idle logoff server-side.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from medviz.config import settings
from medviz.store.db import StoreError
from medviz.store.models import Base, BigId, UTCDateTime, utcnow

COOKIE_NAME = "medviz_session"
HANDOFF_SECONDS = 60
DEFAULT_SESSION_HOURS = 12.0  # the default of medviz.config.Settings.session_hours
_SALT = "medviz-session-cookie"


class AuthSession(Base):
    """One sign-in session (revision 0003). Tokens and hand-off codes are stored as SHA-256 only."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), nullable=False, index=True)
    audit_session_id: Mapped[str] = mapped_column(String(32), nullable=False)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    handoff_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    handoff_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


@dataclass(frozen=True)
class SessionState:
    """What a check found: ``ok`` and, when not, ``reason`` (logout / idle / expired / unknown)."""

    ok: bool
    row_id: int | None = None
    user_id: int | None = None
    audit_session_id: str | None = None
    created_at: datetime | None = None
    reason: str | None = None


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def session_hours() -> float:
    """Absolute session lifetime in hours (setting ``session_hours`` / ``MEDVIZ_SESSION_HOURS``, default 12).

    Raises :class:`medviz.config.ConfigError` (an InputError) when it is not a number in (0, 720].
    """
    return float(settings().session_hours)


def _key_file() -> Path:
    cfg = settings()
    return (cfg.session_key_file or cfg.data_dir / "session.key").expanduser()


def session_secret() -> bytes:
    """The cookie-signing secret: ``MEDVIZ_SESSION_SECRET``, else the key file (created 0600 on first use).

    Raises StoreError when the key file cannot be created or read.
    """
    secret = settings().session_secret
    env = secret.get_secret_value().strip() if secret is not None else ""
    if env:
        return env.encode("utf-8")
    path = _key_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        key = path.read_text().strip()
    except OSError as exc:
        raise StoreError(f"cannot create or read the session key file {path}: {exc.strerror}") from None
    if len(key) < 32:
        raise StoreError(f"the session key file {path} is shorter than 32 characters")
    return key.encode("utf-8")


def _serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(session_secret(), salt=_SALT)


def sign_token(token: str) -> str:
    """The cookie value for a session token (signed, timestamped)."""
    return _serializer().dumps(token)


def unsign_token(value: str | None) -> str | None:
    """The token inside a cookie value, or None when it is missing, forged, altered or too old."""
    if not value:
        return None
    from itsdangerous import BadSignature

    try:
        token = _serializer().loads(value, max_age=int(session_hours() * 3600))
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    return token if isinstance(token, str) else None


def start(engine: Engine, user_id: int, audit_session_id: str, *, now: datetime | None = None) -> tuple[int, str]:
    """Create a session row for a user who just signed in. Returns (row id, one-time hand-off code)."""
    now = now or utcnow()
    code = secrets.token_urlsafe(32)
    row = AuthSession(
        user_id=user_id, audit_session_id=audit_session_id, handoff_hash=_sha(code),
        handoff_expires_at=now + timedelta(seconds=HANDOFF_SECONDS), created_at=now, last_seen=now,
        expires_at=now + timedelta(hours=session_hours()),
    )
    with Session(engine) as s, s.begin():
        s.add(row)
        s.flush()
        return int(row.id), code


def claim(engine: Engine, code: str, *, now: datetime | None = None) -> str | None:
    """Exchange a hand-off code for a new session token (once; within 60 s; live session only).

    Returns the raw token to sign into the cookie, or None. One UPDATE with every condition in its
    WHERE clause, so two concurrent claims of one code cannot both succeed.
    """
    if not code or len(code) > 200:
        return None
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        res = conn.execute(
            update(AuthSession)
            .where(AuthSession.handoff_hash == _sha(code), AuthSession.handoff_expires_at > now,
                   AuthSession.revoked_at.is_(None), AuthSession.token_hash.is_(None))
            .values(token_hash=_sha(token), handoff_hash=None, handoff_expires_at=None)
        )
    return token if res.rowcount == 1 else None


def _state(row: AuthSession | None, now: datetime, idle_minutes: float) -> SessionState:
    if row is None:
        return SessionState(False, reason="unknown")
    base = dict(row_id=int(row.id), user_id=int(row.user_id), audit_session_id=row.audit_session_id,
                created_at=row.created_at)
    if row.revoked_at is not None:
        return SessionState(False, reason=row.revoked_reason or "revoked", **base)
    if now >= row.expires_at:
        return SessionState(False, reason="expired", **base)
    if (now - row.last_seen).total_seconds() > idle_minutes * 60.0:
        return SessionState(False, reason="idle", **base)
    return SessionState(True, **base)


def check(engine: Engine, row_id: int, idle_minutes: float, *, now: datetime | None = None) -> SessionState:
    """State of the session row ``row_id`` now (not ok: revoked, expired, idle or unknown)."""
    now = now or utcnow()
    with Session(engine) as s:
        row = s.scalar(select(AuthSession).where(AuthSession.id == row_id))
    return _state(row, now, idle_minutes)


def check_cookie(engine: Engine, cookie_value: str | None, idle_minutes: float, *,
                 now: datetime | None = None) -> SessionState:
    """State of the session a cookie value names (signature, then the row)."""
    token = unsign_token(cookie_value)
    if token is None:
        return SessionState(False, reason="unknown")
    now = now or utcnow()
    with Session(engine) as s:
        row = s.scalar(select(AuthSession).where(AuthSession.token_hash == _sha(token)))
    return _state(row, now, idle_minutes)


def touch(engine: Engine, row_id: int, *, now: datetime | None = None) -> None:
    """Record activity: ``last_seen`` = now (only on a live row)."""
    now = now or utcnow()
    with engine.begin() as conn:
        conn.execute(update(AuthSession).where(AuthSession.id == row_id, AuthSession.revoked_at.is_(None))
                     .values(last_seen=now))


def revoke(engine: Engine, row_id: int, reason: str, *, now: datetime | None = None) -> bool:
    """End a session server-side; True when this call ended it (False: already ended or unknown)."""
    now = now or utcnow()
    with engine.begin() as conn:
        res = conn.execute(update(AuthSession).where(AuthSession.id == row_id, AuthSession.revoked_at.is_(None))
                           .values(revoked_at=now, revoked_reason=reason[:32], handoff_hash=None))
    return res.rowcount == 1


def revoke_user(engine: Engine, user_id: int, reason: str, *, now: datetime | None = None) -> int:
    """End every live session of a user (account disabled, password changed elsewhere). Returns the count."""
    now = now or utcnow()
    with engine.begin() as conn:
        res = conn.execute(update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
                           .values(revoked_at=now, revoked_reason=reason[:32], handoff_hash=None))
    return int(res.rowcount or 0)
