"""Reading the CPR audit trail (admin; the jobcenter and the auditor for their programmes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc
from libs.common.db import Database
from libs.common.errors import ValidationFailed
from libs.common.uow import UnitOfWork
from services.intake.models import CprAuditRow
from services.intake.repository import AuditRepository


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One read or write of a CPR number."""

    seq: int
    at: datetime  # in UTC
    actor: str
    role: str
    action: str
    endpoint: str
    participant_id: str | None
    correlation_id: str | None
    detail: str | None = None


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    next_cursor: str | None


def entry_of(row: CprAuditRow) -> AuditEntry:
    return AuditEntry(
        row.seq,
        as_utc(row.at),
        row.actor,
        row.role,
        row.action,
        row.endpoint,
        row.participant_id,
        row.correlation_id,
        row.detail,
    )


async def audit_trail(
    database: Database,
    principal: Principal,
    programme_id: str | None,
    participant_id: str | None,
    cursor: str | None,
    limit: int,
) -> AuditPage:
    """The rows in order; for anyone but admin only those naming a participant of ``programme_id`` or,
    without it, of the caller's programmes."""
    programmes: list[str] | None = None
    if programme_id is not None:
        principal.require_programme(programme_id)
        programmes = [programme_id]
    elif principal.role is not Role.admin:
        programmes = sorted(principal.programmes)
    after: int | None = None
    if cursor is not None:
        if not cursor.isdigit():
            raise ValidationFailed.for_field("cursor", "not a cursor this API returned")
        after = int(cursor)
    async with UnitOfWork(database) as uow:
        rows = await AuditRepository(uow.session).page(participant_id, programmes, after, limit + 1)
    next_cursor = str(rows[limit - 1].seq) if len(rows) > limit else None
    return AuditPage([entry_of(row) for row in rows[:limit]], next_cursor)
