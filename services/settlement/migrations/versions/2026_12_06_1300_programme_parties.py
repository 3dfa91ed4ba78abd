"""programme_parties: settlement's copy of every version of a programme's parties (from intake's
programme.parties_published), for the invoices.

Revision ID: settlement_0013
Revises: settlement_0012
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlement_0013"
down_revision: str | None = "settlement_0012"
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
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "version", name="pk_programme_parties"),
    )


def downgrade() -> None:
    op.drop_table("programme_parties")
