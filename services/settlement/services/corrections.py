"""Corrections of months already invoiced, per issued statement and month corrected: counts and
amounts only. The investor reads them under the small-cell rule."""

from __future__ import annotations

from libs.common.auth import Principal, Role
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.uow import UnitOfWork
from services.settlement.domain.corrections import Corrections, corrections
from services.settlement.domain.disclosure import MIN_CITIZENS
from services.settlement.repository import TermsRepository
from services.settlement.repository.corrections import adjustment_lines, issued_statements


async def programme_corrections(database: Database, principal: Principal, programme_id: str) -> Corrections:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database, read_only=True) as uow:
        if not await TermsRepository(uow.session).versions(programme_id):
            raise NotFound(f"No programme {programme_id}.")
        issued = await issued_statements(uow.session, programme_id)
        lines = await adjustment_lines(uow.session, programme_id)
    person_level = principal.role in (Role.jobcenter, Role.provider, Role.admin, Role.auditor)
    return corrections(programme_id, issued, lines, 1 if person_level else MIN_CITIZENS)
