"""statement_lines clustered on its primary key (SQLite: WITHOUT ROWID) and without the index on
programme_id: a statement inserts a line per citizen-month, and each b-tree more is paid per line;
the lines of a programme are found through its statements.

Revision ID: settlement_0007
Revises: settlement_0006
Create Date: 2026-12-01 09:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "settlement_0007"
down_revision: str | None = "settlement_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_statement_lines_programme_id", table_name="statement_lines")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "statement_lines", recreate="always", table_kwargs={"sqlite_with_rowid": False}
        ):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "statement_lines", recreate="always", table_kwargs={"sqlite_with_rowid": True}
        ):
            pass
    op.create_index("ix_statement_lines_programme_id", "statement_lines", ["programme_id"])
