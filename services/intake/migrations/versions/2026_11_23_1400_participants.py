"""participants, append-only CPR audit, idempotency keys

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-23 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0002"
down_revision: str | None = "intake_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cpr_pseudonym", sa.String(64), nullable=False),
        sa.Column("cpr_encrypted", sa.Text(), nullable=False),
        sa.Column("cpr_masked", sa.String(11), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=True),
        sa.Column("consent_given_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("withdrawal_reason", sa.String(32), nullable=True),
        sa.Column("coach_name", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name="pk_participants"),
        sa.UniqueConstraint(
            "programme_id", "cpr_pseudonym", name="uq_participants_programme_id_cpr_pseudonym"
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programmes.programme_id"], name="fk_participants_programme_id_programmes"
        ),
    )
    op.create_index("ix_participants_cpr_pseudonym", "participants", ["cpr_pseudonym"])
    op.create_index(
        "ix_participants_programme_track_status", "participants", ["programme_id", "track", "status"]
    )

    op.create_table(
        "cpr_audit",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=True),
        sa.Column("correlation_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_cpr_audit"),
    )
    op.create_index("ix_cpr_audit_at", "cpr_audit", ["at"])
    op.create_index("ix_cpr_audit_participant_id", "cpr_audit", ["participant_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION cpr_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'cpr_audit is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER cpr_audit_append_only BEFORE UPDATE OR DELETE ON cpr_audit "
            "FOR EACH ROW EXECUTE FUNCTION cpr_audit_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER cpr_audit_no_{verb.lower()} BEFORE {verb} ON cpr_audit "
                "BEGIN SELECT RAISE(ABORT, 'cpr_audit is append-only'); END"
            )

    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor", "key", name="pk_idempotency_keys"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cpr_audit_append_only ON cpr_audit")
        op.execute("DROP FUNCTION IF EXISTS cpr_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS cpr_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS cpr_audit_no_delete")
    op.drop_index("ix_cpr_audit_participant_id", table_name="cpr_audit")
    op.drop_index("ix_cpr_audit_at", table_name="cpr_audit")
    op.drop_table("cpr_audit")
    op.drop_index("ix_participants_programme_track_status", table_name="participants")
    op.drop_index("ix_participants_cpr_pseudonym", table_name="participants")
    op.drop_table("participants")
