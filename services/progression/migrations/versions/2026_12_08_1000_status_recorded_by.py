"""status_records.recorded_by: the subject (``sub``) of the token that posted the record, so the
data-quality monitor can tell one jobcenter feed from another. Records posted before this revision keep
null, which the monitor reports as the feed "unknown"; nothing is guessed for them.

Downgrade drops the column: the code before this revision reads no feed.

Revision ID: progression_0007
Revises: progression_0006
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "progression_0007"
down_revision: str | None = "progression_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("status_records") as batch:
        batch.add_column(sa.Column("recorded_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("status_records") as batch:
        batch.drop_column("recorded_by")
