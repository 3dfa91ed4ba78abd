"""initial: programmes, their terms versions, outbox and inbox

Revision ID: intake_0001
Revises:
Create Date: 2026-11-23 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.migrations import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = "intake_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1(op)
    op.create_table(
        "programmes",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", name="pk_programmes"),
    )
    op.create_table(
        "programme_terms",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "version", name="pk_programme_terms"),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programmes.programme_id"], name="fk_programme_terms_programme_id_programmes"
        ),
    )


def downgrade() -> None:
    op.drop_table("programme_terms")
    op.drop_table("programmes")
    drop_messaging_tables_v1(op)
