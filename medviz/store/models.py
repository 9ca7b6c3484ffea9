"""SQLAlchemy 2 models: accounts, the hash-chained audit trail, cases and outcome feedback.

Every schema change is an Alembic revision in ``migrations/versions``; these classes describe the
newest revision and are what the code reads and writes.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")
GENESIS_HASH = "0" * 64


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes in, the same out, on every backend (stored as naive UTC)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store datetimes must be timezone-aware (UTC)")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # interface language (NULL = English); deferred: account queries that predate it (revision < 0005) never select it
    language: Mapped[str | None] = mapped_column(String(16), nullable=True, deferred=True)


class AuditRecord(Base):
    """One append-only audit record. ``record_hash`` = HMAC-SHA256 (audit key) over every other field +
    ``prev_hash``. Triggers refuse UPDATE and DELETE (migration 0004, :mod:`medviz.store.guards`).

    ``ts`` is an ISO-8601 UTC string (``2026-11-28T10:33:00.123456Z``) rather than a DateTime so that
    what is hashed is byte-for-byte what is stored on every backend.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    session_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    case_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    model_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    input_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    output_summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    warnings: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    record_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)


class AuditHead(Base):
    """A single row (id=1) naming the newest record: the lock appenders take, and the anchor that
    lets ``verify`` notice records deleted from the end of the trail. ``trail_id`` (random, set once)
    ties the exported head file to this database's trail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    record_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    trail_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Case(Base):
    """A saved case under a pseudonymous ID. ``payload`` is the case text or form (JSON), Fernet-encrypted
    when ``encrypted`` is true. ``prediction`` is JSON: text {"probabilities": {label: p}}; tabular {"risk": p}."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    encrypted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    payload: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    input_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    task: Mapped[str] = mapped_column(String(32), nullable=False)
    model_name: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    model_version: Mapped[str] = mapped_column(String(32), nullable=False)
    model_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    prediction: Mapped[str] = mapped_column(Text, nullable=False)


class Outcome(Base):
    """Feedback on a case: the confirmed diagnosis/outcome and whether the clinician agreed with the model.
    Appended, never updated: the newest row per case is the current one. ``confirmed`` holds one of the
    model's labels, or :data:`medviz.store.cases.OTHER_CONFIRMED` when the clinician typed another
    diagnosis — that free text is in ``confirmed_text`` (Fernet-encrypted when ``confirmed_text_encrypted``)."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id"), nullable=False, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    confirmed: Mapped[str] = mapped_column(String(128), nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    reason_encrypted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reason: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    confirmed_text: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    confirmed_text_encrypted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
