"""municipal_spending (learning track) and measurements (copies of the provider's measurements)

Revision ID: settlement_0005
Revises: settlement_0004
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.db import Money

revision: str = "settlement_0005"
down_revision: str | None = "settlement_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "municipal_spending",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("spending_dkk", Money(), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "year", name="pk_municipal_spending"),
    )
    op.create_table(
        "measurements",
        sa.Column("measurement_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("measurement_id", name="pk_measurements"),
    )
    op.create_index("ix_measurements_programme_id", "measurements", ["programme_id"])


def downgrade() -> None:
    op.drop_index("ix_measurements_programme_id", table_name="measurements")
    op.drop_table("measurements")
    op.drop_table("municipal_spending")
