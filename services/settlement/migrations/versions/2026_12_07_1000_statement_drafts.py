"""statement_drafts (a statement's draft before its approval) and statements.number (1, 2, ... per
programme in issue order; the statements issued before are numbered by period).

Revision ID: settlement_0014
Revises: settlement_0013
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlement_0014"
down_revision: str | None = "settlement_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added in place, never by recreating statements (statement_lines refers to it; on SQLite a
    # recreation fails its foreign key): NOT NULL with a default of 0 until every row is numbered.
    op.add_column("statements", sa.Column("number", sa.Integer(), nullable=False, server_default="0"))
    statements = sa.table(
        "statements",
        sa.column("statement_id", sa.String),
        sa.column("programme_id", sa.String),
        sa.column("period", sa.String),
        sa.column("number", sa.Integer),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(statements.c.statement_id, statements.c.programme_id).order_by(
            statements.c.programme_id, statements.c.period
        )
    ).all()
    counts: dict[str, int] = {}
    for statement_id, programme_id in rows:
        counts[programme_id] = counts.get(programme_id, 0) + 1
        connection.execute(
            statements.update()
            .where(statements.c.statement_id == statement_id)
            .values(number=counts[programme_id])
        )
    if connection.dialect.name == "postgresql":
        op.alter_column("statements", "number", server_default=None)
    op.create_index(
        "uq_statements_programme_id_number", "statements", ["programme_id", "number"], unique=True
    )
    op.create_table(
        "statement_drafts",
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("prepared_by", sa.JSON(), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("draft_id", name="pk_statement_drafts"),
    )
    op.create_index("ix_statement_drafts_programme_id", "statement_drafts", ["programme_id"])
    op.create_index(
        "uq_statement_drafts_open_period",
        "statement_drafts",
        ["programme_id", "period"],
        unique=True,
        sqlite_where=sa.text("state = 'draft'"),
        postgresql_where=sa.text("state = 'draft'"),
    )


def downgrade() -> None:
    op.drop_index("uq_statement_drafts_open_period", table_name="statement_drafts")
    op.drop_index("ix_statement_drafts_programme_id", table_name="statement_drafts")
    op.drop_table("statement_drafts")
    op.drop_index("uq_statements_programme_id_number", table_name="statements")
    op.drop_column("statements", "number")
