"""erased_participants: the tombstone of every participant whose personal data was erased
(participant.erased.v1, issue 28). The erasure itself deletes rows; this table only remembers the id so
that nothing about it is stored again.

Downgrade drops the table: the code before this revision erases nothing.

Revision ID: settlement_0017
Revises: settlement_0016
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlement_0017"
down_revision: str | None = "settlement_0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_participants",
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name="pk_erased_participants"),
    )


def downgrade() -> None:
    op.drop_table("erased_participants")
