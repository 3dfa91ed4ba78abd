"""outbox_cursor: how far the relay has published; on SQLite it moves this instead of marking each
row (see outbox_cursor_v3 and libs/common/db.py).

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-12-04 02:00:00
"""

from collections.abc import Sequence

from alembic import op

from libs.common.migrations import outbox_cursor_v3, undo_outbox_cursor_v3

revision: str = "intake_0004"
down_revision: str | None = "intake_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_cursor_v3(op)


def downgrade() -> None:
    undo_outbox_cursor_v3(op)
