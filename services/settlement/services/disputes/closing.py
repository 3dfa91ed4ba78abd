"""Ending a dispute: resolved by the jobcenter (upheld or rejected) or withdrawn by its opener. Either
releases the held amount; a repeat of the same ending is a retry and changes nothing."""

from __future__ import annotations

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.contracts import DisputeResolvedV1
from libs.common.db import Database
from libs.common.errors import Conflict, Forbidden, NotFound
from libs.common.events import new_event
from libs.common.uow import UnitOfWork
from services.settlement.domain.disputes import DisputeRefused, DisputeState, Outcome, resolve, withdraw
from services.settlement.models import DisputeStepRow
from services.settlement.repository import DisputeRepository
from services.settlement.services.disputes.views import DisputeView, dispute_view


async def resolve_dispute(
    database: Database, principal: Principal, dispute_id: str, outcome: Outcome, reason: str | None
) -> DisputeView:
    """Upheld (the jobcenter posts the corrected status to progression; the next statement's
    adjustment of the disputed lines refers to the dispute) or rejected with a reason (the held
    amount becomes payable)."""
    return await _end(database, principal, dispute_id, outcome.value, reason)


async def withdraw_dispute(database: Database, principal: Principal, dispute_id: str) -> DisputeView:
    """Withdrawn by its opener (the same ``sub``): the held amount becomes payable."""
    return await _end(database, principal, dispute_id, DisputeState.withdrawn.value, None)


async def _end(
    database: Database, principal: Principal, dispute_id: str, ending: str, reason: str | None
) -> DisputeView:
    now = utcnow()
    async with UnitOfWork(database) as uow:
        disputes = DisputeRepository(uow.session)
        row = await disputes.get(dispute_id, for_update=True)
        if row is None or not principal.can_access(row.programme_id):
            raise NotFound("No such dispute.")
        state = DisputeState(row.state)
        try:
            if ending == DisputeState.withdrawn.value:
                changes = withdraw(state, row.opened_by, principal.subject)
            else:
                changes = resolve(state, Outcome(ending))
        except DisputeRefused as exc:
            if exc.reason == "opener":
                raise Forbidden(exc.message) from None
            raise Conflict(exc.message, state=row.state) from None
        if changes:
            row.state, row.closed_at, row.resolution_reason = ending, now, reason
            await disputes.release(dispute_id)
            disputes.add(
                DisputeStepRow(
                    dispute_id=dispute_id,
                    seq=await disputes.next_step(dispute_id),
                    step=ending,
                    by_subject=principal.subject,
                    by_role=principal.role.value,
                    at=now,
                    reason=reason,
                )
            )
            uow.emit(
                new_event(
                    DisputeResolvedV1(
                        dispute_id=dispute_id,
                        programme_id=row.programme_id,
                        statement_id=row.statement_id,
                        outcome=ending,
                        reason_code=row.reason_code,
                        amount_dkk=row.amount_dkk,
                        resolved_by_role=principal.role.value,
                        resolved_at=now,
                    ),
                    subject=f"programme/{row.programme_id}",
                )
            )
            await disputes.flush()
        lines, steps = await disputes.lines(dispute_id), await disputes.steps(dispute_id)
        view = dispute_view(row, lines, steps, principal, now)
        await uow.commit()
    return view
