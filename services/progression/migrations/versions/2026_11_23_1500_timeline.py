"""participants copy, status records, cut-off history, batch keys, measurements, milestones

Revision ID: progression_0002
Revises: progression_0001
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "progression_0002"
down_revision: str | None = "progression_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("cpr_pseudonym", sa.String(64), nullable=True),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("last_recording_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name="pk_participants"),
    )
    op.create_index("ix_participants_cpr_pseudonym", "participants", ["cpr_pseudonym"])
    op.create_index("ix_participants_programme_id", "participants", ["programme_id"])
    op.create_table(
        "status_records",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recording_seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_record_id", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name="pk_status_records"),
        sa.UniqueConstraint(
            "participant_id", "recording_seq", name="uq_status_records_participant_id_recording_seq"
        ),
        sa.UniqueConstraint(
            "programme_id", "source_record_id", name="uq_status_records_programme_id_source_record_id"
        ),
    )
    op.create_table(
        "cutoffs",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("complete_through", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "complete_through", name="pk_cutoffs"),
    )
    op.create_table(
        "batch_requests",
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor", "key", name="pk_batch_requests"),
    )
    op.create_table(
        "measurements",
        sa.Column("measurement_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("measurement_id", name="pk_measurements"),
    )
    op.create_index("ix_measurements_participant_id", "measurements", ["participant_id"])
    op.create_table(
        "milestones",
        sa.Column("milestone_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("milestone_id", name="pk_milestones"),
    )
    op.create_index("ix_milestones_participant_id", "milestones", ["participant_id"])


def downgrade() -> None:
    op.drop_index("ix_milestones_participant_id", table_name="milestones")
    op.drop_table("milestones")
    op.drop_index("ix_measurements_participant_id", table_name="measurements")
    op.drop_table("measurements")
    op.drop_table("batch_requests")
    op.drop_table("cutoffs")
    op.drop_table("status_records")
    op.drop_index("ix_participants_programme_id", table_name="participants")
    op.drop_index("ix_participants_cpr_pseudonym", table_name="participants")
    op.drop_table("participants")
