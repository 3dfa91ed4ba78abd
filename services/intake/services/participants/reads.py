"""Reading participants: one by id, or a page of them by cursor."""

from __future__ import annotations

import base64
import binascii
import uuid

from libs.common.auth import Role
from libs.common.db import Database
from libs.common.errors import Forbidden, ValidationFailed
from libs.common.uow import UnitOfWork
from services.intake.repository import (
    ParticipantRepository,
)
from services.intake.services.participants.common import (
    Page,
    ParticipantView,
    _load_for_change,
    _view,
)
from services.intake.services.protection import Caller, CprProtection


async def get_participant(
    database: Database, protection: CprProtection, caller: Caller, participant_id: str
) -> ParticipantView:
    async with UnitOfWork(database) as uow:
        row = await _load_for_change(uow, caller, participant_id)
        view = await _view(uow, protection, caller, row)
        await uow.commit()  # the audit row of the read
    return view


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return str(uuid.UUID(base64.urlsafe_b64decode(cursor.encode() + b"==").decode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed.for_field("cursor", "not a cursor this API returned") from None


def _encode_cursor(participant_id: str) -> str:
    return base64.urlsafe_b64encode(participant_id.encode()).decode().rstrip("=")


async def list_participants(
    database: Database,
    protection: CprProtection,
    caller: Caller,
    programme_id: str | None,
    status: str | None,
    track: str | None,
    cursor: str | None,
    limit: int,
) -> Page:
    principal = caller.principal
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level data is not available to this role.")
    after = _decode_cursor(cursor)
    if programme_id is not None:
        if not principal.can_access(programme_id):
            return Page([], None)
        scope: list[str] | None = [programme_id]
    elif principal.role is Role.admin or "*" in principal.programmes:
        scope = None
    else:
        scope = sorted(principal.programmes)
    async with UnitOfWork(database) as uow:
        rows = await ParticipantRepository(uow.session).page(scope, status, track, after, limit + 1)
        items = [await _view(uow, protection, caller, row) for row in rows[:limit]]
        await uow.commit()
    next_cursor = _encode_cursor(rows[limit - 1].participant_id) if len(rows) > limit else None
    return Page(items, next_cursor)
