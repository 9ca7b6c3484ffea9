"""Append-only, hash-chained audit trail (CLINICAL.md D/S3; HIPAA §164.312(b); AI Act Art 12).

Each record holds UTC time, user, role, action, session, pseudonymous case ID, model name + version +
SHA-256 of the model file, a SHA-256 of the input (never the raw text or rows), a short output summary
and the warnings fired, plus ``prev_hash`` (the previous record's hash) and ``record_hash``
(SHA-256 over all of it). :func:`verify` recomputes the chain and names the first record that was
edited, reordered or deleted; the ``audit_head`` row anchors the newest record so deleting records
from the end is caught too.

Appends are serialized: one transaction takes the chain head under a lock (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``SELECT ... FOR UPDATE`` on the head row), inserts the record(s) and moves the head, then
commits. A writer killed mid-way leaves either all of its records or none of them.

What this does not stop: someone with write access to the database who recomputes every hash after
an edit. Exporting the head hash elsewhere (``python -m medviz audit head``) detects that.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import Engine, func, insert, select, update

from medviz.errors import InputError
from medviz.store.db import serialized_transaction
from medviz.store.models import GENESIS_HASH, AuditHead, AuditRecord

log = logging.getLogger(__name__)

# Actions the dashboard records; others matching ACTION_RE are accepted so new pages can add theirs.
ACTIONS = (
    "login", "login_failed", "logout", "session_timeout", "password_change", "user_created",
    "prediction", "explanation_view", "batch_upload", "export", "evaluation_upload",
    "case_saved", "case_view", "outcome_recorded", "override", "audit_view", "audit_export", "audit_verify",
)
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_SUMMARY = 1000
MAX_WARNINGS = 50
MAX_WARNING_LEN = 300
_CTRL = re.compile(r"[\x00-\x1f\x7f]+")
HASHED_FIELDS = (
    "seq", "ts", "username", "role", "action", "session_id", "case_id", "model_name", "model_version",
    "model_sha256", "input_hash", "output_summary", "warnings", "prev_hash",
)


def clean(value: Any, limit: int) -> str:
    """One line of at most ``limit`` characters: control characters (CR/LF, tabs, NUL) become spaces."""
    return _CTRL.sub(" ", str(value)).strip()[:limit]


def utc_timestamp(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def input_hash(obj: Any) -> str | None:
    """SHA-256 of an input, so a record can be matched to an input without storing it.

    str -> UTF-8; bytes / file-like (Streamlit UploadedFile) -> its bytes; pandas DataFrame/Series ->
    its CSV text; anything else -> canonical JSON. ``None`` -> ``None``.
    """
    if obj is None:
        return None
    if isinstance(obj, str):
        data = obj.encode("utf-8")
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
    elif hasattr(obj, "getvalue"):
        data = obj.getvalue()
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    elif hasattr(obj, "to_csv"):
        buf = io.StringIO()
        obj.to_csv(buf, index=False)
        data = buf.getvalue().encode("utf-8")
    else:
        data = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def summarize_probabilities(labels: Sequence[str], probs: Sequence[float], k: int = 3) -> str:
    """'top-3: flu 0.812 | migraine 0.120 | rash 0.068' — model output only, never input."""
    order = sorted(range(len(probs)), key=lambda i: -float(probs[i]))[:k]
    return f"top-{len(order)}: " + " | ".join(f"{labels[i]} {float(probs[i]):.3f}" for i in order)


def summarize_risk(risk: float, band: str | None = None) -> str:
    return f"risk {float(risk):.3f}" + (f" ({band})" if band else "")


@dataclass(frozen=True)
class AuditEvent:
    """What a caller records; time, sequence number and hashes are added on append."""

    action: str
    username: str
    role: str
    session_id: str | None = None
    case_id: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    model_sha256: str | None = None
    input_hash: str | None = None
    output_summary: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def build(
        cls,
        action: str,
        *,
        username: str,
        role: str,
        session_id: str | None = None,
        case_id: str | None = None,
        bundle: Any = None,
        model: tuple[str, str, str] | None = None,
        input_obj: Any = None,
        input_digest: str | None = None,
        output_summary: str = "",
        warnings: Iterable[Any] = (),
    ) -> "AuditEvent":
        """Validate and normalise; ``bundle`` (a ModelBundle) or ``model`` = (name, version, sha256)."""
        if not isinstance(action, str) or not ACTION_RE.match(action):
            raise InputError(f"audit action must be lower_snake_case of at most 32 characters, got {action!r:.40}")
        if bundle is not None:
            model = (bundle.name, bundle.version, bundle.model_sha256)
        name, version, sha = model if model is not None else (None, None, None)
        warn = tuple(clean(w, MAX_WARNING_LEN) for w in list(warnings)[:MAX_WARNINGS] if str(w).strip())
        return cls(
            action=action,
            username=clean(username, 64) or "?",
            role=clean(role, 16) or "?",
            session_id=clean(session_id, 32) if session_id else None,
            case_id=clean(case_id, 32) if case_id else None,
            model_name=clean(name, 128) if name else None,
            model_version=clean(version, 32) if version else None,
            model_sha256=clean(sha, 64) if sha else None,
            input_hash=input_digest or input_hash(input_obj),
            output_summary=clean(output_summary or "", MAX_SUMMARY),
            warnings=warn,
        )


def _warnings_json(warnings: Sequence[str]) -> str:
    return json.dumps(list(warnings), ensure_ascii=False, separators=(",", ":"))


# Canonical form of a record: a compact JSON array of the hashed fields in HASHED_FIELDS order, UTF-8.
# JSON (not a separator-joined string) so that text moved between adjacent fields changes the hash,
# and so anyone can re-verify the trail in another language. One encoder instance: json.dumps with
# non-default options builds a new encoder per call, which doubles verify time.
_canonical = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def compute_hash(row: dict[str, Any]) -> str:
    """SHA-256 over the hashed fields (canonical JSON array, fixed order). ``row['warnings']`` is the stored JSON."""
    return hashlib.sha256(_canonical([row[f] for f in HASHED_FIELDS]).encode("utf-8")).hexdigest()


def append(engine: Engine, events: AuditEvent | Sequence[AuditEvent]) -> list[int]:
    """Append one event, or several atomically, to the chain. Returns their sequence numbers."""
    if isinstance(events, AuditEvent):
        events = [events]
    if not events:
        return []
    with serialized_transaction(engine) as conn:
        head = conn.execute(
            select(AuditHead.seq, AuditHead.record_hash).where(AuditHead.id == 1).with_for_update()
        ).one()
        seq, prev = int(head.seq), head.record_hash
        rows = []
        for ev in events:
            seq += 1
            row = {
                "seq": seq,
                "ts": utc_timestamp(),
                "username": ev.username,
                "role": ev.role,
                "action": ev.action,
                "session_id": ev.session_id,
                "case_id": ev.case_id,
                "model_name": ev.model_name,
                "model_version": ev.model_version,
                "model_sha256": ev.model_sha256,
                "input_hash": ev.input_hash,
                "output_summary": ev.output_summary,
                "warnings": _warnings_json(ev.warnings),
                "prev_hash": prev,
            }
            row["record_hash"] = prev = compute_hash(row)
            rows.append(row)
        conn.execute(insert(AuditRecord), rows)
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, record_hash=prev))
    log.debug("audit: appended %d record(s), head now #%d", len(rows), seq)
    return [r["seq"] for r in rows]


def record(engine: Engine, action: str, **kwargs: Any) -> int:
    """Build and append one event (see :meth:`AuditEvent.build` for the arguments). Returns its seq."""
    return append(engine, AuditEvent.build(action, **kwargs))[0]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str = ""
    head_seq: int = 0

    def message(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.records} record(s), chain head #{self.head_seq}"
        where = f"record #{self.first_bad_seq}" if self.first_bad_seq is not None else "the chain head"
        return f"audit trail BROKEN at {where}: {self.problem}"


_COLUMNS = [getattr(AuditRecord, f) for f in HASHED_FIELDS] + [AuditRecord.record_hash]


def verify(engine: Engine, batch: int = 20_000) -> VerifyResult:
    """Walk the chain in sequence order; report the first edited, reordered or deleted record.

    Runs in one read transaction (a consistent snapshot) and streams rows, so memory stays flat.
    """
    expected_seq, prev, n = 1, GENESIS_HASH, 0
    with engine.connect() as conn:
        with conn.begin():
            head = conn.execute(select(AuditHead.seq, AuditHead.record_hash).where(AuditHead.id == 1)).one_or_none()
            if head is None:
                return VerifyResult(False, 0, None, "the audit_head row is missing")
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(
                select(*_COLUMNS).order_by(AuditRecord.seq)
            )
            canonical, sha = _canonical, hashlib.sha256
            for r in result:
                seq = r[0]
                if seq != expected_seq:
                    missing = f"#{expected_seq}" if seq == expected_seq + 1 else f"#{expected_seq}–#{seq - 1}"
                    return VerifyResult(False, n, seq, f"record(s) {missing} before it are missing (deleted)", head.seq)
                if r[13] != prev:
                    return VerifyResult(
                        False, n, seq, "its prev_hash does not match the record before it (records were reordered, "
                        "replaced or deleted)", head.seq,
                    )
                digest = sha(canonical(r[:14]).encode("utf-8")).hexdigest()
                if digest != r[14]:
                    return VerifyResult(False, n, seq, "its contents do not match its hash (the record was edited)", head.seq)
                prev, expected_seq, n = r[14], seq + 1, n + 1
    if head.seq != n or head.record_hash != prev:
        if head.seq > n:
            return VerifyResult(
                False, n, n + 1, f"the chain head says {head.seq} record(s) but only {n} remain (records "
                f"#{n + 1}–#{head.seq} were deleted from the end)", head.seq,
            )
        return VerifyResult(False, n, None, "the chain head does not match the last record (it was edited)", head.seq)
    return VerifyResult(True, n, None, "", head.seq)


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one())


def head(engine: Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        h = conn.execute(select(AuditHead.seq, AuditHead.record_hash).where(AuditHead.id == 1)).one()
        return int(h.seq), h.record_hash


def query(
    engine: Engine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    users: Sequence[str] = (),
    actions: Sequence[str] = (),
    model_name: str | None = None,
    case_id: str | None = None,
    limit: int | None = 10_000,
):
    """Records matching the filters, newest first, as a DataFrame (for the admin page and export)."""
    import pandas as pd

    stmt = select(AuditRecord.__table__)
    if since is not None:
        stmt = stmt.where(AuditRecord.ts >= utc_timestamp(since))
    if until is not None:
        stmt = stmt.where(AuditRecord.ts < utc_timestamp(until))
    if users:
        stmt = stmt.where(AuditRecord.username.in_(list(users)))
    if actions:
        stmt = stmt.where(AuditRecord.action.in_(list(actions)))
    if model_name:
        stmt = stmt.where(AuditRecord.model_name == model_name)
    if case_id:
        stmt = stmt.where(AuditRecord.case_id == case_id)
    stmt = stmt.order_by(AuditRecord.seq.desc())
    if limit:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    cols = [c.name for c in AuditRecord.__table__.columns]
    return pd.DataFrame([dict(r) for r in rows], columns=cols)


def distinct_values(engine: Engine, column: str) -> list[str]:
    col = getattr(AuditRecord, column)
    with engine.connect() as conn:
        return sorted(v for v in conn.execute(select(col).distinct()).scalars() if v is not None)
