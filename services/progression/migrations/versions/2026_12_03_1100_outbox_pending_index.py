"""outbox: the relay's index holds only the rows still to publish (ix_outbox_pending, by seq),
replacing ix_outbox_unpublished (published_at, seq); see outbox_pending_index_v2.

Revision ID: progression_0003
Revises: progression_0002
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

from alembic import op

from libs.common.migrations import outbox_pending_index_v2, undo_outbox_pending_index_v2

revision: str = "progression_0003"
down_revision: str | None = "progression_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_pending_index_v2(op)


def downgrade() -> None:
    undo_outbox_pending_index_v2(op)
