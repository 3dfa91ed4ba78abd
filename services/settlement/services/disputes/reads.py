"""Reading disputes: one, and a programme's (filtered, with each one's age and the held totals). The
held amounts per creditor for the receivables: ``DisputeRepository.held_by_creditor``."""

from __future__ import annotations

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.uow import UnitOfWork
from services.settlement.domain.disputes import DisputeState
from services.settlement.repository import DisputeRepository
from services.settlement.services.disputes.views import DisputeList, DisputeView, dispute_view, held_totals
from services.settlement.services.statements import reads_citizen_lines


async def get_dispute(database: Database, principal: Principal, dispute_id: str) -> DisputeView:
    async with UnitOfWork(database, read_only=True) as uow:
        disputes = DisputeRepository(uow.session)
        row = await disputes.get(dispute_id)
        if row is None or not principal.can_access(row.programme_id):
            raise NotFound("No such dispute.")
        lines = await disputes.lines(dispute_id) if reads_citizen_lines(principal) else None
        return dispute_view(row, lines, await disputes.steps(dispute_id), principal, utcnow())


async def list_disputes(
    database: Database,
    principal: Principal,
    programme_id: str,
    state: DisputeState | None = None,
    opened_by: str | None = None,
    statement_id: str | None = None,
) -> DisputeList:
    """The programme's disputes, oldest first, filtered by state, the opener's role and statement; the
    held totals are over all its open disputes, whatever the filters."""
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    now = utcnow()
    async with UnitOfWork(database, read_only=True) as uow:
        disputes = DisputeRepository(uow.session)
        rows = await disputes.of_programme(
            programme_id, state.value if state else None, opened_by, statement_id
        )
        ids = [row.dispute_id for row in rows]
        # Lines only for who reads citizen lines (the investor's view has none).
        lines = await disputes.lines_of(ids) if reads_citizen_lines(principal) else {}
        steps = await disputes.steps_of(ids)
        items = [
            dispute_view(row, lines.get(row.dispute_id), steps[row.dispute_id], principal, now)
            for row in rows
        ]
        open_rows = await disputes.of_programme(programme_id, DisputeState.open.value)
        held = held_totals(open_rows, await disputes.open_participants(programme_id), principal)
    return DisputeList(items, held)
