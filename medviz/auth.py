"""Local accounts: argon2id password hashes (argon2-cffi), roles, lockout, password policy, idle logoff.

Password strength is estimated by zxcvbn (Dropbox's estimator, Python port ``zxcvbn`` on PyPI), which
also matches against its 30,000-entry common-password list (Xato/Burnett corpus) and its dictionaries
of names and English words; a password must reach :data:`MIN_ZXCVBN_SCORE` and must not be one of
those common passwords. Failed sign-ins are counted atomically *before* the password is checked (one
``UPDATE … RETURNING``), so parallel attempts can never check more wrong passwords than the lock allows.

No Streamlit here; the login gate is :mod:`medviz.ui.auth`. Messages never say whether a user name
exists, except that a locked account says it is locked.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from medviz.errors import InputError, MedvizError
from medviz.store.models import User as UserRow
from medviz.store.models import utcnow

log = logging.getLogger(__name__)

ROLE_CLINICIAN = "clinician"
ROLE_ADMIN = "admin"
ROLES = (ROLE_CLINICIAN, ROLE_ADMIN)
MIN_PASSWORD = 12
MAX_PASSWORD = 256
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
DEFAULT_IDLE_MINUTES = 15.0  # the default of medviz.config.Settings.idle_minutes
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
# zxcvbn score 0-4 (guesses < 10^3, 10^6, 10^8, 10^10, more); 3 = "safely unguessable: moderate
# protection from an offline slow-hash scenario" (zxcvbn README), the level NIST SP 800-63B's
# deny-list intent and OWASP's ASVS 2.1.7 aim at.
MIN_ZXCVBN_SCORE = 3
# Words of this deployment that an attacker would try first; zxcvbn penalises passwords built on them.
SITE_WORDS = ("medviz", "clinician", "hospital", "doctor", "nurse", "admin", "administrator", "patient")

# argon2id with the library's recommended parameters (RFC 9106 low-memory profile: t=3, 64 MiB, p=4).
# Tests swap in argon2.profiles.CHEAPEST by monkeypatching this name; there is no runtime switch.
_hasher = PasswordHasher()
_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash to verify against for unknown users, so their sign-in takes as long as a real one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_hex(16))
    return _dummy_hash


class AuthError(MedvizError):
    """Sign-in failed, or an account operation is not allowed."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    active: bool
    must_change_password: bool

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN


def _user(row) -> User:
    return User(int(row.id), row.username, row.role, bool(row.active), bool(row.must_change_password))


def idle_minutes() -> float:
    """Idle logoff after this many minutes (setting ``idle_minutes`` / ``MEDVIZ_IDLE_MINUTES``, default 15).

    Raises :class:`medviz.config.ConfigError` when the setting is not a number in (0, 1440].
    """
    from medviz.config import settings

    return float(settings().idle_minutes)


def is_idle(last_seen: float, now: float, minutes: float) -> bool:
    """True when more than ``minutes`` passed between ``last_seen`` and ``now`` (epoch seconds)."""
    return now - last_seen > minutes * 60.0


def validate_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_RE.match(name):
        raise InputError(
            "user name must be 2-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r:.20}")
    return role


def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problems(password: str, username: str = "") -> list[str]:
    """Everything wrong with a proposed password, as reasons to show the user (empty list = acceptable).

    Length 12-256, ≥ 5 distinct characters, no leading/trailing spaces, not containing the user name,
    not on zxcvbn's common-password list, and a zxcvbn score ≥ :data:`MIN_ZXCVBN_SCORE` (with zxcvbn's
    own warning and suggestion as the reason).
    """
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"at least {MIN_PASSWORD} characters (got {len(password)})")
    if len(password) > MAX_PASSWORD:
        problems.append(f"at most {MAX_PASSWORD} characters")
        return problems  # zxcvbn's matching is slow on very long input
    if len(set(password)) < 5:
        problems.append("at least 5 different characters")
    if username and username.lower() in password.lower():
        problems.append("must not contain the user name")
    if password.lower() in _common_passwords():
        problems.append("is a commonly used password (on zxcvbn's list of 30,000 common passwords)")
    if password != password.strip():
        problems.append("must not start or end with spaces")
    if password:
        from zxcvbn import zxcvbn

        result = zxcvbn(password, user_inputs=[username, *SITE_WORDS] if username else list(SITE_WORDS))
        if result["score"] < MIN_ZXCVBN_SCORE:
            fb = result.get("feedback") or {}
            why = " ".join([fb.get("warning") or "", *(fb.get("suggestions") or [])]).strip()
            problems.append(
                f"too easy to guess (strength {result['score']} of 4, at least {MIN_ZXCVBN_SCORE} needed"
                + (f": {why}" if why else "; add another uncommon word or two") + ")"
            )
    return problems


def check_password_policy(password: str, username: str = "") -> None:
    problems = password_problems(password, username)
    if problems:
        raise InputError("password rejected: " + "; ".join(problems))


def count_users(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(UserRow)).scalar_one())


def create_user(engine: Engine, username: str, password: str, role: str, *, must_change: bool = False) -> User:
    username = validate_username(username)
    validate_role(role)
    check_password_policy(password, username)
    now = utcnow()
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(UserRow).values(
                    username=username, password_hash=_hasher.hash(password), role=role, active=True,
                    must_change_password=must_change, failed_logins=0, created_at=now, password_changed_at=now,
                )
            )
    except IntegrityError:
        raise AuthError(f"a user named '{username}' already exists") from None
    log.info("created a %s account", role)
    return get_user_by_name(engine, username)


def bootstrap_admin(engine: Engine, username: str = "admin") -> tuple[User, str] | None:
    """First start: create an admin with a random one-time password that must be changed at first sign-in.

    Returns (user, password) — the only time the password exists in clear — or None if any user exists.
    """
    if count_users(engine):
        return None
    password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    now = utcnow()
    try:
        with engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(UserRow)).scalar_one():
                return None
            conn.execute(
                insert(UserRow).values(
                    username=username, password_hash=_hasher.hash(password), role=ROLE_ADMIN, active=True,
                    must_change_password=True, failed_logins=0, created_at=now, password_changed_at=None,
                )
            )
    except IntegrityError:  # another session bootstrapped at the same moment
        return None
    return get_user_by_name(engine, username), password


def get_user(engine: Engine, user_id: int) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(UserRow).where(UserRow.id == user_id)).one_or_none()
    return _user(row) if row else None


def get_user_by_name(engine: Engine, username: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(UserRow).where(UserRow.username == username)).one_or_none()
    return _user(row) if row else None


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(UserRow).order_by(UserRow.username))]


def _reserve_attempt(engine: Engine, user_id: int, now: datetime) -> int | None:
    """Count one sign-in attempt as failed *before* its password is checked, atomically.

    One ``UPDATE … WHERE (not locked and under the limit) RETURNING failed_logins``: concurrent attempts
    are serialized by the database's row lock, so at most :data:`MAX_FAILED_LOGINS` attempts can be in
    flight or spent before the lock; an expired lock starts a fresh count. Returns the attempt's number,
    or None when the account is locked (or its attempts are used up).
    """
    lock_expired = (UserRow.locked_until.is_not(None)) & (UserRow.locked_until <= now)
    stmt = (
        update(UserRow)
        .where(UserRow.id == user_id)
        .where(((UserRow.locked_until.is_(None)) & (UserRow.failed_logins < MAX_FAILED_LOGINS)) | lock_expired)
        .values(failed_logins=case((lock_expired, 1), else_=UserRow.failed_logins + 1), locked_until=None)
        .returning(UserRow.failed_logins)
    )
    with engine.begin() as conn:
        return conn.execute(stmt).scalar_one_or_none()


def authenticate(engine: Engine, username: str, password: str, *, now: datetime | None = None) -> User:
    """Check a user name and password; raise :class:`AuthError` with a message safe to show.

    The attempt is counted before the (slow, argon2) password check and un-counted on success, so the
    number of wrong passwords ever checked per lockout period is at most :data:`MAX_FAILED_LOGINS`,
    however many attempts arrive at once; the attempt that reaches the limit sets ``locked_until``.
    """
    now = now or utcnow()
    generic = AuthError("unknown user name or wrong password")
    name = (username or "").strip()
    with engine.connect() as conn:
        row = conn.execute(select(UserRow).where(UserRow.username == name)).one_or_none()
    if row is None or not row.active:
        try:
            _hasher.verify(_dummy(), password or "x")
        except VerificationError:
            pass
        raise generic
    attempt = _reserve_attempt(engine, row.id, now)
    if attempt is None:
        with engine.connect() as conn:
            until = conn.execute(select(UserRow.locked_until).where(UserRow.id == row.id)).scalar_one_or_none()
        when = f"until {until:%H:%M} UTC" if until is not None and until > now else "for now"
        raise AuthError(
            f"this account is locked after {MAX_FAILED_LOGINS} failed sign-ins {when}; wait or ask an administrator"
        )
    try:
        _hasher.verify(row.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        if attempt >= MAX_FAILED_LOGINS:
            with engine.begin() as conn:
                conn.execute(update(UserRow).where(UserRow.id == row.id).values(locked_until=now + LOCKOUT))
        raise generic from None
    values = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if _hasher.check_needs_rehash(row.password_hash):
        values["password_hash"] = _hasher.hash(password)
    with engine.begin() as conn:
        conn.execute(update(UserRow).where(UserRow.id == row.id).values(**values))
    return _user(row)


def set_password(engine: Engine, username: str, new_password: str, *, must_change: bool = False) -> None:
    """Set a password (admin reset from the CLI, or after the old one was checked)."""
    user = get_user_by_name(engine, username)
    if user is None:
        raise AuthError(f"no user named '{username}'")
    check_password_policy(new_password, user.username)
    with engine.begin() as conn:
        conn.execute(
            update(UserRow).where(UserRow.id == user.id).values(
                password_hash=_hasher.hash(new_password), must_change_password=must_change,
                password_changed_at=utcnow(), failed_logins=0, locked_until=None,
            )
        )


def change_password(engine: Engine, user_id: int, old_password: str, new_password: str) -> User:
    """A signed-in user changes their own password (also the forced change after a one-time password)."""
    user = get_user(engine, user_id)
    if user is None:
        raise AuthError("this account no longer exists")
    authenticate(engine, user.username, old_password)
    if old_password == new_password:
        raise InputError("the new password must differ from the current one")
    set_password(engine, user.username, new_password, must_change=False)
    return get_user(engine, user_id)


def set_active(engine: Engine, username: str, active: bool) -> None:
    user = get_user_by_name(engine, username)
    if user is None:
        raise AuthError(f"no user named '{username}'")
    with engine.begin() as conn:
        conn.execute(update(UserRow).where(UserRow.id == user.id).values(active=active))


def new_session_id() -> str:
    """A random identifier tying a session's audit records together (not a credential)."""
    return secrets.token_hex(8)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
