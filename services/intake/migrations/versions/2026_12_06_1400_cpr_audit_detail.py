"""cpr_audit.detail: what a run over many rows did (a key rotation's counts), never a CPR number.

Revision ID: intake_0010
Revises: intake_0009
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0010"
down_revision: str | None = "intake_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cpr_audit", sa.Column("detail", sa.String(200), nullable=True))


def downgrade() -> None:
    # Not a batch: recreating the table would drop its append-only triggers (SQLite drops columns since 3.35).
    op.drop_column("cpr_audit", "detail")
