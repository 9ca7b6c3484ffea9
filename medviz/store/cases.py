"""Case history and outcome feedback (CLINICAL.md P10).

A clinician saves a case (free text, or a form as a dict of field values) with the model's prediction
under a random pseudonymous case ID; later they record the confirmed diagnosis or outcome and whether
they agreed with the model, disagreed, or overrode it, with a reason. Every free-text field — case
text, form values, reasons, and a confirmed diagnosis typed as "Other" — is encrypted at rest
(:mod:`medviz.store.crypto`; on by default). Nothing here logs case content or IDs.
"""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from medviz.audit import input_hash
from medviz.errors import InputError
from medviz.store.crypto import seal, unseal
from medviz.store.models import Case as CaseRow
from medviz.store.models import Outcome as OutcomeRow
from medviz.store.models import utcnow

log = logging.getLogger(__name__)

KIND_TEXT = "text"
KIND_FORM = "form"
DECISIONS = ("agree", "disagree", "override")
# Stored in outcomes.confirmed when the clinician typed a diagnosis outside the model's labels; the
# typed text itself is sealed in outcomes.confirmed_text.
OTHER_CONFIRMED = "(other)"
MAX_TEXT = 20_000
MAX_REASON = 2_000
# Crockford base32 without look-alikes: easy to read aloud and copy, carries no patient information.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_case_id() -> str:
    return "C-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


@dataclass(frozen=True)
class OutcomeRecord:
    case_id: str
    recorded_at: datetime
    recorded_by: str
    confirmed: str
    decision: str
    reason: str


@dataclass(frozen=True)
class CaseSummary:
    """A case without its content (for lists)."""

    case_id: str
    created_at: datetime
    created_by: str
    kind: str
    encrypted: bool
    task: str
    model_name: str
    model_version: str
    model_sha256: str
    prediction: dict[str, Any]
    outcome: OutcomeRecord | None

    @property
    def top_label(self) -> str | None:
        probs = self.prediction.get("probabilities")
        return max(probs, key=probs.get) if probs else None

    @property
    def risk(self) -> float | None:
        r = self.prediction.get("risk")
        return None if r is None else float(r)


@dataclass(frozen=True)
class CaseDetail:
    summary: CaseSummary
    content: str | dict[str, Any]
    outcomes: tuple[OutcomeRecord, ...]


def text_prediction(labels: Sequence[str], probs: Sequence[float]) -> dict[str, Any]:
    return {"probabilities": {str(lab): float(p) for lab, p in zip(labels, probs)}}


def risk_prediction(risk: float, band: str | None = None, labels: Sequence[str] = ()) -> dict[str, Any]:
    """``{"risk": p, "band": ..., "labels": [...]}``; ``labels`` are the outcome's values (e.g. No, Yes),
    so a confirmed outcome can later be told apart from free text."""
    return {"risk": float(risk), **({"band": band} if band else {}), **({"labels": list(labels)} if len(labels) else {})}


def save_case(
    engine: Engine,
    *,
    username: str,
    content: str | Mapping[str, Any],
    bundle: Any = None,
    model: tuple[str, str, str, str] | None = None,
    prediction: Mapping[str, Any],
) -> CaseSummary:
    """Save a case with the prediction shown for it; returns it with its new pseudonymous ID.

    ``bundle`` (a ModelBundle) or ``model`` = (name, version, sha256, task) identifies the model.
    """
    if isinstance(content, str):
        kind, text = KIND_TEXT, content.strip()
        if not text:
            raise InputError("case text is empty: type the case description before saving")
        if len(text) > MAX_TEXT:
            raise InputError(f"case text is {len(text)} characters; at most {MAX_TEXT} can be saved")
    elif isinstance(content, Mapping):
        kind, text = KIND_FORM, json.dumps(dict(content), sort_keys=True, ensure_ascii=False, default=str)
    else:
        raise InputError(f"a case is text or a form (field -> value), got {type(content).__name__}")
    if bundle is not None:
        model = (bundle.name, bundle.version, bundle.model_sha256, bundle.task)
    if model is None:
        raise InputError("save_case needs the model the prediction came from (bundle=...)")
    if not ("probabilities" in prediction or "risk" in prediction):
        raise InputError("prediction must hold 'probabilities' (text models) or 'risk' (tabular models)")
    payload, encrypted = seal(text)
    now = utcnow()
    for _ in range(5):  # a collision of 50 random bits is vanishingly rare; retry anyway
        case_id = new_case_id()
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(CaseRow).values(
                        case_id=case_id, created_at=now, created_by=username, kind=kind, encrypted=encrypted,
                        payload=payload, input_hash=input_hash(content if kind == KIND_TEXT else dict(content)),
                        task=model[3], model_name=model[0], model_version=model[1], model_sha256=model[2],
                        prediction=json.dumps(dict(prediction), sort_keys=True),
                    )
                )
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover
        raise InputError("could not allocate a case ID; try again")
    log.info("saved a %s case (encrypted=%s)", kind, encrypted)
    return get_case(engine, case_id).summary


def record_outcome(
    engine: Engine, case_id: str, *, username: str, confirmed: str, decision: str, reason: str = "",
    labels: Sequence[str] = (),
) -> OutcomeRecord:
    """Record the confirmed diagnosis/outcome and the clinician's decision about the model's output.

    ``confirmed`` that is one of the model's labels (the case's probabilities, its saved ``labels``, or
    ``labels`` given here) is stored as is; anything else is free text and is stored encrypted, with
    :data:`OTHER_CONFIRMED` in the plain column. Raises :class:`InputError` naming the missing or
    invalid field.
    """
    if decision not in DECISIONS:
        raise InputError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r:.20}")
    confirmed = (confirmed or "").strip()
    if not confirmed:
        raise InputError("confirmed diagnosis/outcome is empty: pick or type what was confirmed")
    if len(confirmed) > 128:
        raise InputError(f"confirmed diagnosis/outcome is {len(confirmed)} characters; at most 128")
    reason = (reason or "").strip()
    if decision != "agree" and not reason:
        raise InputError(f"a reason is required when you {decision} with the model")
    if len(reason) > MAX_REASON:
        raise InputError(f"reason is {len(reason)} characters; at most {MAX_REASON}")
    stored, encrypted = seal(reason)
    now = utcnow()
    with engine.begin() as conn:
        exists = conn.execute(select(CaseRow.prediction).where(CaseRow.case_id == case_id)).first()
        if exists is None:
            raise InputError(f"no saved case with ID {case_id!r:.40}")
        saved = json.loads(exists.prediction)
        known = set(labels) | set(saved.get("probabilities") or {}) | set(saved.get("labels") or [])
        plain, typed, typed_enc = confirmed, None, False
        if confirmed not in known:
            plain = OTHER_CONFIRMED
            typed, typed_enc = seal(confirmed)
        conn.execute(
            insert(OutcomeRow).values(
                case_id=case_id, recorded_at=now, recorded_by=username, confirmed=plain, decision=decision,
                reason_encrypted=encrypted, reason=stored, confirmed_text=typed, confirmed_text_encrypted=typed_enc,
            )
        )
    log.info("recorded an outcome (decision=%s, typed diagnosis=%s)", decision, typed is not None)
    return OutcomeRecord(case_id, now, username, confirmed, decision, reason)


def _outcome(row, *, with_reason: bool) -> OutcomeRecord:
    """``with_reason``: decrypt the reason and a typed ("Other") diagnosis; otherwise those read as
    empty / :data:`OTHER_CONFIRMED`."""
    reason = unseal(row.reason, row.reason_encrypted) if with_reason else ""
    confirmed = row.confirmed
    if with_reason and row.confirmed_text is not None:
        confirmed = unseal(row.confirmed_text, row.confirmed_text_encrypted)
    return OutcomeRecord(row.case_id, row.recorded_at, row.recorded_by, confirmed, row.decision, reason)


def _summary(row, outcome: OutcomeRecord | None) -> CaseSummary:
    return CaseSummary(
        row.case_id, row.created_at, row.created_by, row.kind, bool(row.encrypted), row.task, row.model_name,
        row.model_version, row.model_sha256, json.loads(row.prediction), outcome,
    )


_SUMMARY_COLS = [c for c in CaseRow.__table__.columns if c.name != "payload"]


def list_cases(
    engine: Engine,
    *,
    created_by: str | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    with_outcome_only: bool = False,
    limit: int | None = None,
) -> list[CaseSummary]:
    """Cases (newest first) with their latest outcome; never decrypts content."""
    stmt = select(*_SUMMARY_COLS).order_by(CaseRow.created_at.desc(), CaseRow.id.desc())
    if created_by:
        stmt = stmt.where(CaseRow.created_by == created_by)
    if model_name:
        stmt = stmt.where(CaseRow.model_name == model_name)
    if model_version:
        stmt = stmt.where(CaseRow.model_version == model_version)
    if limit:
        stmt = stmt.limit(limit)
    ocols = list(OutcomeRow.__table__.columns)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        ids = [r.case_id for r in rows]
        latest: dict[str, OutcomeRecord] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for o in conn.execute(select(*ocols).where(OutcomeRow.case_id.in_(chunk)).order_by(OutcomeRow.id)):
                latest[o.case_id] = _outcome(o, with_reason=False)
    out = [_summary(r, latest.get(r.case_id)) for r in rows]
    return [c for c in out if c.outcome is not None] if with_outcome_only else out


def get_case(engine: Engine, case_id: str, *, decrypt: bool = False) -> CaseDetail:
    """One case; its text/form and outcome reasons are decrypted only when ``decrypt`` is true."""
    with engine.connect() as conn:
        row = conn.execute(select(CaseRow).where(CaseRow.case_id == case_id)).one_or_none()
        if row is None:
            raise InputError(f"no saved case with ID {case_id!r:.40}")
        outs = conn.execute(select(OutcomeRow).where(OutcomeRow.case_id == case_id).order_by(OutcomeRow.id)).all()
    outcomes = tuple(_outcome(o, with_reason=decrypt) for o in outs)
    content: str | dict[str, Any] = ""
    if decrypt:
        text = unseal(row.payload, row.encrypted)
        content = json.loads(text) if row.kind == KIND_FORM else text
    return CaseDetail(_summary(row, outcomes[-1] if outcomes else None), content, outcomes)
