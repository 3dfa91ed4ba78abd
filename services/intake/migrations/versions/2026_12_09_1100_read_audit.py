"""read_audit, read_audit_subjects, read_audit_head: the chained read audit of person-level reads
(libs/common/readaudit). Triggers refuse UPDATE and DELETE except an erasure nulling a participant id
and an append moving the head.

Revision ID: intake_0012
Revises: intake_0011
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

from alembic import op

from libs.common.readaudit.migration import create_read_audit_v1, drop_read_audit_v1

revision: str = "intake_0012"
down_revision: str | None = "intake_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_read_audit_v1(op)


def downgrade() -> None:
    drop_read_audit_v1(op)
