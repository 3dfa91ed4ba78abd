"""programme_parties: the versions of a programme's parties (municipality, provider, investor), each
written once and never updated.

Revision ID: intake_0009
Revises: intake_0008
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0009"
down_revision: str | None = "intake_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "programme_parties",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "version", name="pk_programme_parties"),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programmes.programme_id"], name="fk_programme_parties_programme_id_programmes"
        ),
    )


def downgrade() -> None:
    op.drop_table("programme_parties")
