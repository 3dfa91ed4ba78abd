"""record_sequences: per participant the number of status records held and the highest
recording_seq, kept as records are stored (the gap check read them by counting every record), filled
here from the records already held. With the gap check off status_records, its covering index is led
by (participant_id, valid_from) instead of (participant_id, recording_seq): a recompute of some months
reads the records starting before their end, not all of the participant's.

Revision ID: settlement_0009
Revises: settlement_0008
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlement_0009"
down_revision: str | None = "settlement_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VALIDITY = ["participant_id", "valid_from", "valid_to", "recording_seq", "code"]
TIMELINE = ["participant_id", "recording_seq", "valid_from", "valid_to", "code"]


def upgrade() -> None:
    op.create_table(
        "record_sequences",
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("records_held", sa.Integer(), nullable=False),
        sa.Column("highest_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name="pk_record_sequences"),
    )
    op.execute(
        "INSERT INTO record_sequences (participant_id, records_held, highest_seq)"
        " SELECT participant_id, count(*), max(recording_seq) FROM status_records GROUP BY participant_id"
    )
    op.create_index("ix_status_records_participant_validity", "status_records", VALIDITY)
    op.drop_index("ix_status_records_participant_timeline", table_name="status_records")


def downgrade() -> None:
    op.create_index("ix_status_records_participant_timeline", "status_records", TIMELINE)
    op.drop_index("ix_status_records_participant_validity", table_name="status_records")
    op.drop_table("record_sequences")
