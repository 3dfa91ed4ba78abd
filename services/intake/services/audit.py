"""Reading the CPR audit trail (admin)."""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.db import Database
from libs.common.errors import ValidationFailed
from libs.common.uow import UnitOfWork
from services.intake.models import CprAuditRow
from services.intake.repository import AuditRepository


@dataclass(frozen=True)
class AuditPage:
    items: list[CprAuditRow]
    next_cursor: str | None


async def audit_trail(
    database: Database, participant_id: str | None, cursor: str | None, limit: int
) -> AuditPage:
    after: int | None = None
    if cursor is not None:
        if not cursor.isdigit():
            raise ValidationFailed.for_field("cursor", "not a cursor this API returned")
        after = int(cursor)
    async with UnitOfWork(database) as uow:
        rows = await AuditRepository(uow.session).page(participant_id, after, limit + 1)
    next_cursor = str(rows[limit - 1].seq) if len(rows) > limit else None
    return AuditPage(rows[:limit], next_cursor)
