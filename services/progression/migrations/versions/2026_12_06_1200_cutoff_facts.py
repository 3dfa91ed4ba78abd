"""cutoff_facts replaces cutoffs: every move of a programme's data cut-off is a fact in recording order
(``seq``), an advance or a retraction with its reason and who recorded it; the same date may come back
after a retraction, so the date is no longer part of the key.

Downgrade keeps, per programme and date, the last fact recorded (the old table held each date once);
the code before this revision reads the cut-off as the latest date, so a retraction is lost then.

Revision ID: progression_0006
Revises: progression_0005
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "progression_0006"
down_revision: str | None = "progression_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cutoff_facts",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("complete_through", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "seq", name="pk_cutoff_facts"),
    )
    # The old rows only ever moved forward: their order by date is their recording order.
    op.execute(
        """INSERT INTO cutoff_facts (programme_id, seq, complete_through, kind, reason, recorded_by, recorded_at)
        SELECT programme_id,
               ROW_NUMBER() OVER (PARTITION BY programme_id ORDER BY complete_through),
               complete_through, 'advanced', NULL, NULL, recorded_at
        FROM cutoffs"""
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
