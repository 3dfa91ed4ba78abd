"""participants.cpr_pseudonym and its index dropped: progression no longer holds the CPR key nor any
pseudonym; a CPR-based status post is resolved by intake's batch lookup.

Downgrade re-adds the column, nullable and empty: the code before this revision then finds no one by
pseudonym and asks intake for each CPR, keeping the pseudonym it computes again.

Revision ID: progression_0005
Revises: progression_0004
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "progression_0005"
down_revision: str | None = "progression_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_participants_cpr_pseudonym", table_name="participants")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("cpr_pseudonym")


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("cpr_pseudonym", sa.String(64), nullable=True))
    op.create_index("ix_participants_cpr_pseudonym", "participants", ["cpr_pseudonym"])
