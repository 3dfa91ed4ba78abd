"""Erasure routes: the jobcenter's orders, the list of orders and done erasures, and a run of the
erasure job on demand (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from services.intake.api.deps import Admin, CallerDep, CprAuditReader, Jobcenter, Protection
from services.intake.domain import Erasure, ErasureState
from services.intake.schemas import ErasureOrderIn, ErasureOut, ErasurePageOut, ErasureRunOut
from services.intake.services import erasure

router = APIRouter(prefix="/v1", tags=["erasures"])


def erasure_out(item: Erasure) -> ErasureOut:
    return ErasureOut(
        erasure_id=item.erasure_id,
        participant_id=item.participant_id,
        programme_id=item.programme_id,
        state=item.state,
        basis=item.basis,
        reason_code=item.reason_code,
        reason=item.reason,
        ordered_by=item.ordered_by,
        due=item.ordered_at,
        erased_at=item.erased_at,
    )


@router.post(
    "/participants/{participant_id}/erasure-order",
    status_code=status.HTTP_201_CREATED,
    response_model=ErasureOut,
    summary="Order a participant's personal data erased (jobcenter of the programme); the job carries it out",
    responses={
        200: {"description": "The same order again: the first order, as it stands now", "model": ErasureOut},
        409: {
            "description": "The participant is enrolled and their window has not ended, another erasure "
            "was ordered, or the data was already erased"
        },
    },
)
async def order_erasure(
    participant_id: Uuid,
    body: ErasureOrderIn,
    _: Jobcenter,
    caller: CallerDep,
    db: DatabaseDep,
    protection: Protection,
    response: Response,
) -> ErasureOut:
    answer = await erasure.order_erasure(
        db, protection, caller, participant_id, body.reason_code, body.reason
    )
    if not answer.created:
        response.status_code = status.HTTP_200_OK
    return erasure_out(answer.erasure)


@router.get(
    "/erasures",
    response_model=ErasurePageOut,
    summary="Erasure orders and done erasures in the caller's programmes (jobcenter, auditor, admin)",
)
async def list_erasures(
    _: CprAuditReader,
    caller: CallerDep,
    db: DatabaseDep,
    programme_id: str | None = None,
    state: ErasureState | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ErasurePageOut:
    page = await erasure.list_erasures(db, caller, programme_id, state, cursor, limit)
    return ErasurePageOut(items=[erasure_out(e) for e in page.items], next_cursor=page.next_cursor)


@router.post(
    "/admin/erasures/run",
    response_model=ErasureRunOut,
    summary="Run the erasure job once now (admin): erase every participant ordered or past retention",
)
async def run_erasures(_: Admin, caller: CallerDep, db: DatabaseDep) -> ErasureRunOut:
    run = await erasure.run_erasures(db, caller)
    return ErasureRunOut(erased=[erasure_out(e) for e in run.erased], waiting=run.waiting, held=run.held)
