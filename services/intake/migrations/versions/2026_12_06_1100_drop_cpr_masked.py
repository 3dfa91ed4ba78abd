"""participants.cpr_masked dropped: it held the birth date (DDMMYY-****) beside the encrypted number.
The masked form shown now is the constant ******-****, which reveals nothing of the number.

Revision ID: intake_0007
Revises: intake_0006
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0007"
down_revision: str | None = "intake_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("cpr_masked")


def downgrade() -> None:
    # Back as the constant: filling it with birth dates again would take decrypting every row.
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("cpr_masked", sa.String(11), nullable=True))
    op.execute("UPDATE participants SET cpr_masked = '******-****'")
    with op.batch_alter_table("participants") as batch:
        batch.alter_column("cpr_masked", existing_type=sa.String(11), nullable=False)
