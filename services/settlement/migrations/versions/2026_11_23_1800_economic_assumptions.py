"""economic_assumptions: benefit rates and the refund staircase per programme

Revision ID: settlement_0004
Revises: settlement_0003
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlement_0004"
down_revision: str | None = "settlement_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "economic_assumptions",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("assumptions", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", name="pk_economic_assumptions"),
    )


def downgrade() -> None:
    op.drop_table("economic_assumptions")
