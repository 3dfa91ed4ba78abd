"""cutoff_facts replaces cutoffs: the cut-off moves progression recorded, advances and retractions,
keyed by when they were recorded; the cut-off in force is the last one recorded (a retraction takes
it back to an earlier date, possibly one it had before).

Downgrade keeps, per programme and date, the last move recorded; the code before this revision reads
the latest date, so a retraction is lost then.

Revision ID: settlement_0012
Revises: settlement_0011
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlement_0012"
down_revision: str | None = "settlement_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cutoff_facts",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_through", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "recorded_at", "complete_through", name="pk_cutoff_facts"),
    )
    op.execute(
        """INSERT INTO cutoff_facts (programme_id, recorded_at, complete_through, kind)
        SELECT programme_id, recorded_at, complete_through, 'advanced' FROM cutoffs"""
    )
    op.drop_table("cutoffs")


def downgrade() -> None:
    op.create_table(
        "cutoffs",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("complete_through", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "complete_through", name="pk_cutoffs"),
    )
    op.execute(
        """INSERT INTO cutoffs (programme_id, complete_through, recorded_at)
        SELECT programme_id, complete_through, MAX(recorded_at) FROM cutoff_facts
        GROUP BY programme_id, complete_through"""
    )
    op.drop_table("cutoff_facts")
