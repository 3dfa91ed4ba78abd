"""track_seats: the seats taken per programme and track, kept by each enrolment (was a count of the
enrolled participants on every enrolment), filled from the participants enrolled so far.

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0005"
down_revision: str | None = "intake_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "track_seats",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "track", name="pk_track_seats"),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programmes.programme_id"], name="fk_track_seats_programme_id_programmes"
        ),
    )
    op.execute(
        "INSERT INTO track_seats (programme_id, track, taken) SELECT programme_id, track, COUNT(*) "
        "FROM participants WHERE enrolled_on IS NOT NULL GROUP BY programme_id, track"
    )


def downgrade() -> None:
    op.drop_table("track_seats")
