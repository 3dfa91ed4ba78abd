"""statements keep their lines only in statement_lines (content without lines, line_count), and
statement_line_parts holds the parts of a statement's lines received before its statement.issued.v2

Revision ID: settlement_0006
Revises: settlement_0005
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from libs.common.db import Money

revision: str = "settlement_0006"
down_revision: str | None = "settlement_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

statements = sa.table(
    "statements",
    sa.column("statement_id", sa.String),
    sa.column("programme_id", sa.String),
    sa.column("content", sa.JSON),
    sa.column("line_count", sa.Integer),
)
lines_table = sa.table(
    "statement_lines",
    sa.column("statement_id", sa.String),
    sa.column("line_no", sa.Integer),
    sa.column("programme_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("participant_id", sa.String),
    sa.column("month", sa.String),
    sa.column("amount_dkk", Money()),
    sa.column("corrects_statement_id", sa.String),
    sa.column("corrects_line_no", sa.Integer),
)
LINE_COLUMNS = (
    "line_no",
    "kind",
    "participant_id",
    "month",
    "amount_dkk",
    "corrects_statement_id",
    "corrects_line_no",
)


def upgrade() -> None:
    op.add_column("statements", sa.Column("line_count", sa.Integer(), nullable=False, server_default="0"))
    connection = op.get_bind()
    # The lines of each statement issued so far are in its content (what its sha256 is over) and in
    # statement_lines; the content's are the ones hashed, so statement_lines is written from them.
    for statement_id, programme_id, content in connection.execute(
        sa.select(statements.c.statement_id, statements.c.programme_id, statements.c.content)
    ).all():
        lines = content.pop("lines", [])
        connection.execute(sa.delete(lines_table).where(lines_table.c.statement_id == statement_id))
        if lines:
            connection.execute(
                sa.insert(lines_table),
                [
                    {name: line[name] for name in LINE_COLUMNS}
                    | {
                        "statement_id": statement_id,
                        "programme_id": programme_id,
                        "amount_dkk": Decimal(line["amount_dkk"]),
                    }
                    for line in lines
                ],
            )
        connection.execute(
            sa.update(statements)
            .where(statements.c.statement_id == statement_id)
            .values(content=content, line_count=len(lines))
        )
    op.create_table(
        "statement_line_parts",
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("first_line_no", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("statement_id", "part", name="pk_statement_line_parts"),
    )


def downgrade() -> None:
    op.drop_table("statement_line_parts")
    connection = op.get_bind()
    for statement_id, content in connection.execute(
        sa.select(statements.c.statement_id, statements.c.content)
    ).all():
        rows = connection.execute(
            sa.select(*(lines_table.c[name] for name in LINE_COLUMNS))
            .where(lines_table.c.statement_id == statement_id)
            .order_by(lines_table.c.line_no)
        ).all()
        lines = [
            dict(zip(LINE_COLUMNS, row, strict=True)) | {"amount_dkk": str(row.amount_dkk)} for row in rows
        ]
        connection.execute(
            sa.update(statements)
            .where(statements.c.statement_id == statement_id)
            .values(content=content | {"lines": lines})
        )
    op.drop_column("statements", "line_count")
