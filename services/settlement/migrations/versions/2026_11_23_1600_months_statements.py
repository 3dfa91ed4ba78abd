"""participants and status records copies, cut-offs, participant months, statements and lines

Revision ID: settlement_0002
Revises: settlement_0001
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.db import Money

revision: str = "settlement_0002"
down_revision: str | None = "settlement_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name="pk_participants"),
    )
    op.create_index("ix_participants_programme_id", "participants", ["programme_id"])
    op.create_table(
        "status_records",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recording_seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_status_records"),
    )
    op.create_index("ix_status_records_participant_id", "status_records", ["participant_id"])
    op.create_table(
        "cutoffs",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("complete_through", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "complete_through", name="pk_cutoffs"),
    )
    op.create_table(
        "participant_months",
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("in_window_days", sa.Integer(), nullable=False),
        sa.Column("self_supporting_days", sa.Integer(), nullable=False),
        sa.Column("public_support_days", sa.Integer(), nullable=False),
        sa.Column("unknown_days", sa.Integer(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("fee_dkk", Money(), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("fee_per_month_dkk", Money(), nullable=False),
        sa.Column("terms_version", sa.Integer(), nullable=False),
        sa.Column("cutoff_used", sa.Date(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", "month", name="pk_participant_months"),
    )
    op.create_index("ix_participant_months_programme_id", "participant_months", ["programme_id"])
    op.create_table(
        "statements",
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("covers_through", sa.String(7), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("statement_id", name="pk_statements"),
        sa.UniqueConstraint("programme_id", "period", name="uq_statements_programme_id_period"),
    )
    op.create_table(
        "statement_lines",
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=True),
        sa.Column("month", sa.String(7), nullable=True),
        sa.Column("amount_dkk", Money(), nullable=False),
        sa.Column("corrects_statement_id", sa.String(36), nullable=True),
        sa.Column("corrects_line_no", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("statement_id", "line_no", name="pk_statement_lines"),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.statement_id"], name="fk_statement_lines_statement_id_statements"
        ),
    )
    op.create_index("ix_statement_lines_programme_id", "statement_lines", ["programme_id"])


def downgrade() -> None:
    op.drop_index("ix_statement_lines_programme_id", table_name="statement_lines")
    op.drop_table("statement_lines")
    op.drop_table("statements")
    op.drop_index("ix_participant_months_programme_id", table_name="participant_months")
    op.drop_table("participant_months")
    op.drop_table("cutoffs")
    op.drop_index("ix_status_records_participant_id", table_name="status_records")
    op.drop_table("status_records")
    op.drop_index("ix_participants_programme_id", table_name="participants")
    op.drop_table("participants")
