"""programmes.invoiced_through: the last month an issued statement covers, learnt from settlement's
statement.issued events; a new terms version must take effect after it.

Revision ID: intake_0008
Revises: intake_0007
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0008"
down_revision: str | None = "intake_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): programme_terms refers to programmes, and SQLite cannot drop a
    # referenced table while it checks foreign keys.
    op.add_column("programmes", sa.Column("invoiced_through", sa.String(7), nullable=True))


def downgrade() -> None:
    op.drop_column("programmes", "invoiced_through")
