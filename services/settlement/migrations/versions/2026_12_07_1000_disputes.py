"""disputes, dispute_lines and dispute_steps: disputes of issued statements' lines, the lines each
holds while open, and every step with who and when.

Revision ID: settlement_0015
Revises: settlement_0013
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.db import Money

revision: str = "settlement_0015"
down_revision: str | None = "settlement_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("dispute_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("amount_dkk", Money(), nullable=False),
        sa.Column("investor_dkk", Money(), nullable=False),
        sa.Column("provider_dkk", Money(), nullable=False),
        sa.Column("citizens", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("opened_role", sa.String(32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_reason", sa.String(2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.statement_id"], name="fk_disputes_statement_id_statements"
        ),
        sa.PrimaryKeyConstraint("dispute_id", name="pk_disputes"),
    )
    op.create_index("ix_disputes_programme_id", "disputes", ["programme_id"])
    op.create_table(
        "dispute_lines",
        sa.Column("dispute_id", sa.String(36), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("amount_dkk", Money(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["disputes.dispute_id"], name="fk_dispute_lines_dispute_id_disputes"
        ),
        sa.PrimaryKeyConstraint("dispute_id", "line_no", name="pk_dispute_lines"),
        sa.UniqueConstraint(
            "statement_id", "line_no", "held", name="uq_dispute_lines_statement_id_line_no_held"
        ),
    )
    op.create_table(
        "dispute_steps",
        sa.Column("dispute_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("by_subject", sa.String(200), nullable=False),
        sa.Column("by_role", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["disputes.dispute_id"], name="fk_dispute_steps_dispute_id_disputes"
        ),
        sa.PrimaryKeyConstraint("dispute_id", "seq", name="pk_dispute_steps"),
    )


def downgrade() -> None:
    op.drop_table("dispute_steps")
    op.drop_table("dispute_lines")
    op.drop_index("ix_disputes_programme_id", table_name="disputes")
    op.drop_table("disputes")
