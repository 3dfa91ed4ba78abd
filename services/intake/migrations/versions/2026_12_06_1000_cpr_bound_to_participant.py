"""Every stored CPR token re-encrypted in the v2 format, bound to its participant's id (the AES-GCM
associated data), under the current key: a token copied onto another participant's row no longer
decrypts there. Tokens under a previous key (CPR_PREVIOUS_ENCRYPTION_KEYS) are moved to the current one.

The keys are intake's: the settings the service migrates with, or IntakeSettings() from the environment.

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

from libs.common.cpr import CprCipher
from services.intake.services.protection import CprProtection
from services.intake.settings import IntakeSettings

revision: str = "intake_0006"
down_revision: str | None = "intake_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows read and written per round trip, so a large table is never held in memory at once.
CHUNK = 5000


def _cipher() -> CprCipher:
    settings = context.config.attributes.get("settings")
    if not isinstance(settings, IntakeSettings):
        settings = IntakeSettings()
    return CprProtection.from_settings(settings).cipher


def _reencrypt(change: Callable[[str, str], str | None]) -> None:
    """Apply ``change(token, participant_id)`` to every row, chunk by chunk in key order; None leaves
    the row as it is. The error names the participant, never anything of the number."""
    bind = op.get_bind()
    select = sa.text(
        "SELECT participant_id, cpr_encrypted FROM participants WHERE participant_id > :after "
        "ORDER BY participant_id LIMIT :chunk"
    )
    update = sa.text("UPDATE participants SET cpr_encrypted = :token WHERE participant_id = :pid")
    after = ""
    while rows := bind.execute(select, {"after": after, "chunk": CHUNK}).all():
        changed = []
        for participant_id, token in rows:
            try:
                new = change(token, participant_id)
            except ValueError as exc:
                raise RuntimeError(f"participant {participant_id}: {exc}") from None
            if new is not None:
                changed.append({"pid": participant_id, "token": new})
        if changed:
            bind.execute(update, changed)
        after = rows[-1][0]


def upgrade() -> None:
    cipher = _cipher()
    _reencrypt(lambda token, pid: cipher.rotate(token, pid) if cipher.needs_rotation(token) else None)


def downgrade() -> None:
    cipher = _cipher()
    _reencrypt(cipher.unbind)
