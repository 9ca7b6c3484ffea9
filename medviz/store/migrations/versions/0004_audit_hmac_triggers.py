"""audit trail under an HMAC key with append-only triggers; "Other" confirmed diagnoses encrypted

* ``audit_head.trail_id``: a random id tying the exported head file to this database's trail.
* Existing audit records are re-sealed with HMAC-SHA256 under the audit key (their old keyless
  SHA-256 chain is checked first and the finding written into an ``audit_resealed`` record).
* Triggers refuse UPDATE/DELETE on ``audit_log`` (and TRUNCATE on PostgreSQL); see medviz.store.guards.
* ``outcomes.confirmed_text`` / ``confirmed_text_encrypted``: a typed ("Other") confirmed diagnosis is
  stored sealed there; existing free-text values of text cases (not one of the case's labels) move.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
import json
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from medviz import audit
    from medviz.store import guards
    from medviz.store.cases import OTHER_CONFIRMED
    from medviz.store.crypto import seal

    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("trail_id", sa.String(32), nullable=True))
    with op.batch_alter_table("outcomes") as batch:
        batch.add_column(sa.Column("confirmed_text", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("confirmed_text_encrypted", sa.Boolean(), nullable=False, server_default=sa.false()))
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE audit_head SET trail_id = :t WHERE trail_id IS NULL"), {"t": secrets.token_hex(8)})

    n, finding = audit.reseal(conn)
    if n:
        event = audit.AuditEvent.build(
            "audit_resealed", username="migration", role="system",
            output_summary=f"{n} record(s) re-sealed with HMAC-SHA256 under the audit key; {finding}",
        )
        audit.append_locked(conn, [event], audit.audit_key())

    # Typed confirmed diagnoses of text cases (not one of the case's labels) move to the sealed column.
    rows = conn.execute(sa.text(
        "SELECT o.id, o.confirmed, c.prediction FROM outcomes o JOIN cases c ON c.case_id = o.case_id WHERE c.kind = 'text'"
    )).all()
    for oid, confirmed, prediction in rows:
        labels = (json.loads(prediction) or {}).get("probabilities") or {}
        if confirmed not in labels:
            stored, encrypted = seal(confirmed)
            conn.execute(sa.text("UPDATE outcomes SET confirmed = :o, confirmed_text = :t, confirmed_text_encrypted = :e "
                                 "WHERE id = :i"), {"o": OTHER_CONFIRMED, "t": stored, "e": encrypted, "i": oid})

    guards.create_append_only_triggers(conn)


def downgrade() -> None:
    from medviz.store import guards

    guards.drop_append_only_triggers(op.get_bind())
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("confirmed_text_encrypted")
        batch.drop_column("confirmed_text")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("trail_id")
