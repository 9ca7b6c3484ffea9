"""case history and outcome feedback

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=False),
    )
    op.create_index("ix_cases_created_at", "cases", ["created_at"])
    op.create_index("ix_cases_created_by", "cases", ["created_by"])
    op.create_index("ix_cases_model_name", "cases", ["model_name"])
    op.create_table(
        "outcomes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("confirmed", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason_encrypted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_outcomes_case_id", "outcomes", ["case_id"])
    op.create_index("ix_outcomes_recorded_at", "outcomes", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("outcomes")
    op.drop_table("cases")
