"""sequence_gaps: participants with a hole in their recording sequence, waiting for a resync

Revision ID: settlement_0003
Revises: settlement_0002
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlement_0003"
down_revision: str | None = "settlement_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sequence_gaps",
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("highest_seq", sa.Integer(), nullable=False),
        sa.Column("records_held", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name="pk_sequence_gaps"),
    )


def downgrade() -> None:
    op.drop_table("sequence_gaps")
