"""The read audit's tables as each service's migration creates them (``store.py`` describes them).
Frozen: a later change is a new helper used by a new migration."""

from __future__ import annotations

from typing import Any

from libs.common.readaudit.chain import GENESIS

_REFUSED = "read_audit is append-only"
_REDACT_ONLY = "read_audit_subjects is append-only: an erasure may only null a participant id"
_FORWARD_ONLY = "read_audit_head only moves forward"

# What an UPDATE of a subject may change: its participant id, from a value to NULL, nothing else.
_REDACTION = (
    "NEW.seq = OLD.seq AND NEW.position = OLD.position AND NEW.digest = OLD.digest"
    " AND OLD.participant_id IS NOT NULL AND NEW.participant_id IS NULL"
)
# Forward only (a rebuild's carry-over moves it many rows at once): never back to hide cut-off rows.
_ADVANCE = "NEW.chain = OLD.chain AND NEW.seq > OLD.seq"


def create_read_audit_v1(op: Any) -> None:
    import sqlalchemy as sa

    seq_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "read_audit",
        sa.Column("seq", seq_type, nullable=False, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sub", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_read_audit"),
    )
    op.create_index("ix_read_audit_programme_id_seq", "read_audit", ["programme_id", "seq"])
    op.create_table(
        "read_audit_subjects",
        sa.Column("seq", seq_type, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("participant_id", sa.String(36), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", "position", name="pk_read_audit_subjects"),
        sa.ForeignKeyConstraint(["seq"], ["read_audit.seq"], name="fk_read_audit_subjects_seq_read_audit"),
    )
    op.create_index("ix_read_audit_subjects_participant_id", "read_audit_subjects", ["participant_id"])
    op.create_table(
        "read_audit_head",
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name="pk_read_audit_head"),
    )
    op.execute(f"INSERT INTO read_audit_head (chain, seq, hash) VALUES ('reads', 0, '{GENESIS}')")  # noqa: S608 - constants
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION read_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_REFUSED}'; END $$"
        )
        op.execute(
            "CREATE FUNCTION read_audit_subjects_redact_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF TG_OP = 'UPDATE' AND {_REDACTION} THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{_REDACT_ONLY}'; END $$"
        )
        op.execute(
            "CREATE FUNCTION read_audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF TG_OP = 'UPDATE' AND {_ADVANCE} THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{_FORWARD_ONLY}'; END $$"
        )
        for table, function in (
            ("read_audit", "read_audit_append_only"),
            ("read_audit_subjects", "read_audit_subjects_redact_only"),
            ("read_audit_head", "read_audit_head_forward_only"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_guard BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION read_audit_append_only()"
            )
    else:
        for table, refused in (
            ("read_audit", _REFUSED),
            ("read_audit_subjects", _REDACT_ONLY),
            ("read_audit_head", _FORWARD_ONLY),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{refused}'); END"
            )
        op.execute(
            f"CREATE TRIGGER read_audit_no_update BEFORE UPDATE ON read_audit "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END"
        )
        op.execute(
            "CREATE TRIGGER read_audit_subjects_guard BEFORE UPDATE ON read_audit_subjects "
            f"WHEN NOT ({_REDACTION}) BEGIN SELECT RAISE(ABORT, '{_REDACT_ONLY}'); END"
        )
        op.execute(
            "CREATE TRIGGER read_audit_head_guard BEFORE UPDATE ON read_audit_head "
            f"WHEN NOT ({_ADVANCE}) BEGIN SELECT RAISE(ABORT, '{_FORWARD_ONLY}'); END"
        )


def drop_read_audit_v1(op: Any) -> None:
    # The tables' triggers go with them; PostgreSQL's functions do not.
    op.drop_table("read_audit_head")
    op.drop_index("ix_read_audit_subjects_participant_id", table_name="read_audit_subjects")
    op.drop_table("read_audit_subjects")
    op.drop_index("ix_read_audit_programme_id_seq", table_name="read_audit")
    op.drop_table("read_audit")
    if op.get_bind().dialect.name == "postgresql":
        for function in (
            "read_audit_head_forward_only",
            "read_audit_subjects_redact_only",
            "read_audit_append_only",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
