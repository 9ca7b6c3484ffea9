"""Append-only, HMAC-chained audit trail (CLINICAL.md D/S3; HIPAA §164.312(b); AI Act Art 12).

Each record holds UTC time, user, role, action, session, pseudonymous case ID, model name + version +
SHA-256 of the model file, a SHA-256 of the input (never the raw text or rows), a short output summary
and the warnings fired, plus ``prev_hash`` (the previous record's hash) and ``record_hash`` =
HMAC-SHA256 (RFC 2104, Python's :mod:`hmac`) over all of it under the **audit key**, which is kept
outside the database (``MEDVIZ_AUDIT_KEY``, a key file, or ``<data_dir>/audit.key`` generated on first
start with mode 0600; see :mod:`medviz.config`). Without the key nobody can recompute a valid chain.

Three layers, each checked by :func:`verify` (``python -m medviz audit verify``):

1. the HMAC chain names the first record that was edited, reordered, deleted, forged or re-hashed;
2. after every committed write batch the new chain head (``trail seq hash``, itself HMAC-signed) is
   appended to an append-only file outside the database (``audit_head_file``, default
   ``<data_dir>/audit-head.log``); verify checks every exported head against the database, which
   catches a trail truncated with its head moved back, a wiped trail, a replaced database and a fork
   written by someone holding the key;
3. database triggers (:mod:`medviz.store.guards`) refuse UPDATE and DELETE on ``audit_log``;
   verify reports them missing.

Appends are serialized: one transaction takes the chain head under a lock (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``SELECT ... FOR UPDATE`` on the head row), inserts the record(s) and moves the head, then
commits; the head is exported after the commit. A writer killed mid-way leaves either all of its
records or none of them; killed between commit and export, the exported head merely lags (not an error).
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, select, update

from medviz.config import ConfigError, load_or_create_secret, settings
from medviz.errors import InputError, MedvizError
from medviz.store.db import serialized_transaction
from medviz.store.guards import missing_triggers
from medviz.store.models import GENESIS_HASH, AuditHead, AuditRecord

log = logging.getLogger(__name__)

# Actions the dashboard records; others matching ACTION_RE are accepted so new pages can add theirs.
ACTIONS = (
    "login", "login_failed", "logout", "session_timeout", "password_change", "user_created",
    "prediction", "explanation_view", "batch_upload", "export", "evaluation_upload",
    "case_saved", "case_view", "outcome_recorded", "override", "audit_view", "audit_export", "audit_verify",
    "audit_resealed",
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


AUDIT_KEY_ENV = "MEDVIZ_AUDIT_KEY"
MIN_KEY_BYTES = 32
HEAD_LINE_TAG = "medviz-audit-head-v1"


class AuditExportError(MedvizError):
    """A record was committed but its chain head could not be exported to the head file."""


_keys: dict[str, bytes] = {}
_keys_lock = threading.Lock()


def audit_key() -> bytes:
    """The HMAC key: ``MEDVIZ_AUDIT_KEY`` (hex), else the key file, else a new 32-byte key written there.

    Raises :class:`medviz.config.ConfigError` if the key is not hex or shorter than 32 bytes.
    """
    cfg = settings()
    env = cfg.audit_key.get_secret_value().strip() if cfg.audit_key is not None else None
    raw = load_or_create_secret(cfg.audit_key_path, env_value=env or None, env_name=AUDIT_KEY_ENV,
                                generate=lambda: secrets.token_hex(MIN_KEY_BYTES), what="audit key")
    with _keys_lock:
        key = _keys.get(raw)
    if key is None:
        try:
            key = bytes.fromhex(raw)
        except ValueError:
            raise ConfigError("the audit key must be hexadecimal (e.g. from `python -c \"import secrets; "
                              "print(secrets.token_hex(32))\"`)") from None
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"the audit key is {len(key)} bytes; at least {MIN_KEY_BYTES} are needed")
        with _keys_lock:
            _keys[raw] = key
    return key


def key_location_warning() -> str | None:
    """A sentence when the audit key is a file in the folder of the data it protects (the data folder, or
    the SQLite file's folder), else None. Someone who can write that folder can rewrite the trail and
    re-seal it with the key beside it; the key belongs in a secret store (``MEDVIZ_AUDIT_KEY``) or a
    folder the database's users cannot write. Never raises (a check for the page and the CLI)."""
    try:
        cfg = settings()
        if cfg.audit_key is not None and cfg.audit_key.get_secret_value().strip():
            return None  # from the environment / a secret store
        key_dir = cfg.audit_key_path.resolve().parent
        data_dirs = {cfg.data_dir.expanduser().resolve()}
        if not cfg.database_url:
            data_dirs.add(cfg.sqlite_path.resolve().parent)
    except Exception:  # an unreadable configuration is reported by whatever uses it
        return None
    if key_dir not in data_dirs:
        return None
    return (f"the audit key file ({cfg.audit_key_path}) is in the same folder as the data it protects: anyone who "
            "can write that folder can rewrite the audit trail and re-seal it. Give the key from a secret store "
            f"({AUDIT_KEY_ENV}) or set audit_key_file to a folder the database's users cannot write "
            "(README, Configuration).")


# Canonical form of a record: a compact JSON array of the hashed fields in HASHED_FIELDS order, UTF-8.
# JSON (not a separator-joined string) so that text moved between adjacent fields changes the hash,
# and so anyone can re-verify the trail in another language. One encoder instance: json.dumps with
# non-default options builds a new encoder per call, which doubles verify time.
_canonical = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def compute_hash(row: dict[str, Any], key: bytes | None = None) -> str:
    """HMAC-SHA256 under the audit key (default :func:`audit_key`) over the hashed fields (canonical JSON
    array, fixed order), as 64 hex digits. ``row['warnings']`` is the stored JSON."""
    return hmac.digest(key or audit_key(), _canonical([row[f] for f in HASHED_FIELDS]).encode("utf-8"), "sha256").hex()


def legacy_hash(row: dict[str, Any]) -> str:
    """The keyless SHA-256 of schema revisions before 0004 (only to check a trail before re-sealing it)."""
    return hashlib.sha256(_canonical([row[f] for f in HASHED_FIELDS]).encode("utf-8")).hexdigest()


# --- the exported chain head ------------------------------------------------------------------------

def _head_mac(key: bytes, trail: str, seq: int, digest: str) -> str:
    return hmac.digest(key, f"{HEAD_LINE_TAG} {trail} {seq} {digest}".encode("ascii"), "sha256").hex()[:32]


def head_file() -> Path:
    """Where chain heads are exported (setting ``audit_head_file``)."""
    return settings().audit_head_path


def export_head(trail: str, seq: int, digest: str, *, key: bytes | None = None, path: Path | None = None) -> None:
    """Append ``<tag> <trail> <seq> <hash> <ts> <mac>`` to the head file (O_APPEND, one write; created 0600).

    Lines from concurrent processes may land out of order; :func:`verify` does not depend on order.
    Raises :class:`AuditExportError` when the file cannot be written.
    """
    path = Path(path or head_file())
    line = f"{HEAD_LINE_TAG} {trail} {seq} {digest} {utc_timestamp()} {_head_mac(key or audit_key(), trail, seq, digest)}\n"
    try:
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("ascii"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise AuditExportError(
            f"audit record saved, but the chain head could not be exported to {path} ({exc.strerror})"
        ) from None


@dataclass
class ExportedHeads:
    """What the head file says: the trail it belongs to, and every exported (seq -> hashes) of that trail."""

    path: Path
    first_trail: str | None = None
    heads: dict[int, set[str]] = field(default_factory=dict)
    bad_line: int | None = None
    lines: int = 0

    @property
    def newest(self) -> int:
        return max(self.heads, default=0)


def read_exported_heads(path: Path, trail: str | None, key: bytes) -> ExportedHeads:
    """Parse the head file; lines with a wrong MAC are reported (first one) as ``bad_line``.

    A last line without its newline (a writer stopped mid-line) is ignored.
    """
    out = ExportedHeads(Path(path))
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return out
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # incomplete last line
    for i, raw in enumerate(lines, 1):
        out.lines += 1
        parts = raw.decode("ascii", "replace").split()
        try:
            tag, t, seq_s, digest, _ts, mac = parts
            seq = int(seq_s)
            ok = tag == HEAD_LINE_TAG and hmac.compare_digest(mac, _head_mac(key, t, seq, digest))
        except ValueError:
            ok = False
        if not ok:
            if out.bad_line is None:
                out.bad_line = i
            continue
        if out.first_trail is None:
            out.first_trail = t
        if t == trail:
            out.heads.setdefault(seq, set()).add(digest)
    return out


def append(engine: Engine, events: AuditEvent | Sequence[AuditEvent]) -> list[int]:
    """Append one event, or several atomically, to the chain; then export the new head.

    Returns their sequence numbers. Raises :class:`AuditExportError` (after the commit) when the head
    file cannot be written, :class:`medviz.config.ConfigError` when the audit key is unusable.
    """
    if isinstance(events, AuditEvent):
        events = [events]
    if not events:
        return []
    key = audit_key()
    with serialized_transaction(engine) as conn:
        seqs, trail, digest = append_locked(conn, events, key)
    log.debug("audit: appended %d record(s), head now #%d", len(seqs), seqs[-1])
    if trail:
        export_head(trail, seqs[-1], digest, key=key)
    return seqs


def append_locked(conn: Connection, events: Sequence[AuditEvent], key: bytes) -> tuple[list[int], str | None, str]:
    """Insert ``events`` inside the caller's write transaction, which this locks the head row in.

    Returns (sequence numbers, trail id, new head hash); the caller exports the head after commit.
    """
    head = conn.execute(
        select(AuditHead.seq, AuditHead.record_hash, AuditHead.trail_id).where(AuditHead.id == 1).with_for_update()
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
        row["record_hash"] = prev = compute_hash(row, key)
        rows.append(row)
    conn.execute(insert(AuditRecord), rows)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, record_hash=prev))
    return [r["seq"] for r in rows], head.trail_id, prev


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
    exported_seq: int = 0

    def message(self) -> str:
        if self.ok:
            return (f"audit trail intact: {self.records} record(s), chain head #{self.head_seq}, "
                    f"newest exported head #{self.exported_seq} matches")
        where = f"record #{self.first_bad_seq}" if self.first_bad_seq is not None else "the chain head"
        return f"audit trail BROKEN at {where}: {self.problem}"


_COLUMNS = [getattr(AuditRecord, f) for f in HASHED_FIELDS] + [AuditRecord.record_hash]


def verify(engine: Engine, batch: int = 20_000, *, head_path: Path | None = None) -> VerifyResult:
    """Check the trail; report the first problem found.

    In order: the append-only triggers are installed; the head file's lines are signed and belong to
    this database's trail; every record's HMAC and ``prev_hash`` (edited, reordered, deleted, forged,
    re-hashed); the ``audit_head`` row matches the last record (deleted from the end); every exported
    head matches the record at its position (truncated with the head moved back, wiped, forked).

    Runs in one read transaction (a consistent snapshot) and streams rows, so memory stays flat
    (the exported heads are held in a dict: one entry per write batch).
    Raises :class:`medviz.config.ConfigError` when the audit key is unusable.
    """
    key = audit_key()
    path = Path(head_path or head_file())
    expected_seq, prev, n = 1, GENESIS_HASH, 0
    with engine.connect() as conn:
        with conn.begin():
            head = conn.execute(
                select(AuditHead.seq, AuditHead.record_hash, AuditHead.trail_id).where(AuditHead.id == 1)
            ).one_or_none()
            if head is None:
                return VerifyResult(False, 0, None, "the audit_head row is missing (deleted)")
            missing = missing_triggers(conn)
            if missing:
                return VerifyResult(False, 0, None, "the triggers that refuse UPDATE/DELETE on audit records are "
                                    f"missing ({', '.join(missing)}): someone with schema rights removed them",
                                    head.seq)
            exported = read_exported_heads(path, head.trail_id, key)
            if exported.bad_line is not None:
                return VerifyResult(False, 0, None, f"line {exported.bad_line} of the head file {path} is not "
                                    "signed with the audit key (forged or damaged)", head.seq)
            if exported.first_trail is not None and exported.first_trail != head.trail_id:
                return VerifyResult(False, 0, None, f"the head file {path} belongs to another audit trail: this "
                                    "database's trail was replaced or recreated (wiped)", head.seq)
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(
                select(*_COLUMNS).order_by(AuditRecord.seq)
            )
            canonical, mac, heads = _canonical, hmac.digest, exported.heads
            for r in result:
                seq = r[0]
                if seq != expected_seq:
                    gap = f"#{expected_seq}" if seq == expected_seq + 1 else f"#{expected_seq}–#{seq - 1}"
                    return VerifyResult(False, n, seq, f"record(s) {gap} before it are missing (deleted)", head.seq)
                if r[13] != prev:
                    return VerifyResult(
                        False, n, seq, "its prev_hash does not match the record before it (records were reordered, "
                        "replaced or deleted)", head.seq,
                    )
                if mac(key, canonical(r[:14]).encode("utf-8"), "sha256").hex() != r[14]:
                    return VerifyResult(False, n, seq, "its HMAC does not match its contents under the audit key "
                                        "(the record was edited, forged or re-hashed without the key)", head.seq)
                if seq in heads and r[14] not in heads[seq]:
                    return VerifyResult(False, n, seq, f"it differs from the head exported to {path} for #{seq} "
                                        "(the trail was rewritten from here: a fork)", head.seq)
                prev, expected_seq, n = r[14], seq + 1, n + 1
    if head.seq != n or head.record_hash != prev:
        if head.seq > n:
            return VerifyResult(
                False, n, n + 1, f"the chain head says {head.seq} record(s) but only {n} remain (records "
                f"#{n + 1}–#{head.seq} were deleted from the end)", head.seq,
            )
        return VerifyResult(False, n, None, "the chain head does not match the last record (it was edited)", head.seq)
    if exported.newest > n:
        return VerifyResult(False, n, n + 1, f"#{exported.newest} was exported to {path} but only {n} record(s) "
                            f"remain: records #{n + 1}–#{exported.newest} were deleted and the chain head moved "
                            "back (truncated or wiped)", head.seq, exported.newest)
    if n and not heads:
        return VerifyResult(False, n, None, f"no chain head of this trail was ever exported to {path} (the file was "
                            "removed or replaced, or audit_head_file points elsewhere)", head.seq)
    return VerifyResult(True, n, None, "", head.seq, exported.newest)


def reseal(conn: Connection) -> tuple[int, str]:
    """Migration helper: bring an existing trail under the audit key. Returns (records, what was found).

    A trail already valid under the key is left alone. Otherwise the old keyless SHA-256 chain is
    checked (the finding is recorded) and every record's ``prev_hash``/``record_hash`` recomputed with
    HMAC in seq order; the caller appends an ``audit_resealed`` record. Runs inside the caller's
    transaction, before the append-only triggers exist.
    """
    key = audit_key()
    rows = [dict(r) for r in conn.execute(select(AuditRecord.__table__).order_by(AuditRecord.seq)).mappings()]
    if not rows:
        return 0, ""

    def check(fn) -> int | None:
        prev = GENESIS_HASH
        for i, r in enumerate(rows, 1):
            if r["seq"] != i or r["prev_hash"] != prev or fn(r) != r["record_hash"]:
                return int(r["seq"])
            prev = r["record_hash"]
        return None

    if check(lambda r: compute_hash(r, key)) is None:
        return 0, ""
    bad = check(legacy_hash)
    finding = "legacy SHA-256 chain intact" if bad is None else f"legacy SHA-256 chain was already broken at #{bad}"
    prev = GENESIS_HASH
    table = AuditRecord.__table__
    for r in rows:
        r["prev_hash"] = prev
        r["record_hash"] = prev = compute_hash(r, key)
        conn.execute(update(table).where(table.c.seq == r["seq"]).values(prev_hash=r["prev_hash"],
                                                                           record_hash=r["record_hash"]))
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=rows[-1]["seq"], record_hash=prev))
    return len(rows), finding


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one())


def head(engine: Engine) -> tuple[int, str]:
    """(newest seq, its hash) from the database's ``audit_head`` row."""
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
