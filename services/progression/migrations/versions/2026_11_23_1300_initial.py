"""initial: programme copies, outbox and inbox

Revision ID: progression_0001
Revises:
Create Date: 2026-11-23 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.migrations import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = "progression_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1(op)
    op.create_table(
        "programmes",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("terms_version", sa.Integer(), nullable=False),
        sa.Column("status_categories", sa.JSON(), nullable=False),
        sa.Column("data_complete_through", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", name="pk_programmes"),
    )


def downgrade() -> None:
    op.drop_table("programmes")
    drop_messaging_tables_v1(op)
