"""status_records indexed on (participant_id, recording_seq, valid_from, valid_to, code) instead of on
participant_id alone: the index holds every column a recompute and the gap check read of a
participant's records, so neither reads the table itself (which grows with every correction).

Revision ID: settlement_0008
Revises: settlement_0007
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "settlement_0008"
down_revision: str | None = "settlement_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["participant_id", "recording_seq", "valid_from", "valid_to", "code"]


def upgrade() -> None:
    op.create_index("ix_status_records_participant_timeline", "status_records", COLUMNS)
    op.drop_index("ix_status_records_participant_id", table_name="status_records")


def downgrade() -> None:
    op.create_index("ix_status_records_participant_id", "status_records", ["participant_id"])
    op.drop_index("ix_status_records_participant_timeline", table_name="status_records")
