"""erasures (orders and done erasures); cpr_audit lets an erasure null its participant_id, nothing else

Revision ID: intake_0011
Revises: intake_0010
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0011"
down_revision: str | None = "intake_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column of cpr_audit but participant_id: an update must leave them all as they were.
_KEPT = ("seq", "at", "actor", "role", "action", "endpoint", "correlation_id", "detail")


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("erasure_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("order_fingerprint", sa.String(64), nullable=True),
        sa.Column("ordered_by", sa.String(200), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("erasure_id", name="pk_erasures"),
        sa.UniqueConstraint("participant_id", name="uq_erasures_participant_id"),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programmes.programme_id"], name="fk_erasures_programme_id_programmes"
        ),
    )
    op.create_index("ix_erasures_programme_id", "erasures", ["programme_id"])
    op.create_index("ix_erasures_erased_at", "erasures", ["erased_at"])
    # The audit stays append-only, except that an erasure nulls the participant it names.
    if op.get_bind().dialect.name == "postgresql":
        same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _KEPT)
        op.execute(
            "CREATE OR REPLACE FUNCTION cpr_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'UPDATE' AND NEW.participant_id IS NULL AND {same} THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION 'cpr_audit is append-only'; END $$"
        )
    else:
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _KEPT)
        op.execute("DROP TRIGGER cpr_audit_no_update")
        op.execute(
            "CREATE TRIGGER cpr_audit_no_update BEFORE UPDATE ON cpr_audit "
            f"WHEN NOT (NEW.participant_id IS NULL AND {same}) "
            "BEGIN SELECT RAISE(ABORT, 'cpr_audit is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION cpr_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'cpr_audit is append-only'; END $$"
        )
    else:
        op.execute("DROP TRIGGER cpr_audit_no_update")
        op.execute(
            "CREATE TRIGGER cpr_audit_no_update BEFORE UPDATE ON cpr_audit "
            "BEGIN SELECT RAISE(ABORT, 'cpr_audit is append-only'); END"
        )
    op.drop_index("ix_erasures_erased_at", table_name="erasures")
    op.drop_index("ix_erasures_programme_id", table_name="erasures")
    op.drop_table("erasures")
