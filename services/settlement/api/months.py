"""A participant's months and the explanation of any month's fee."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from fastapi import APIRouter

from libs.common.auth import CurrentPrincipal
from libs.common.clock import utcnow
from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from libs.common.readaudit.api import ReadAuditDep
from libs.rules.timeline import StatusRecord, iso_week_range
from services.settlement.schemas import (
    DecidingPeriod,
    DryRunChange,
    DryRunOut,
    DryRunRequest,
    ExplanationOut,
    MonthList,
    MonthOut,
)
from services.settlement.services import dry_run as dry_run_service
from services.settlement.services import month_reads

router = APIRouter(prefix="/v1", tags=["months"])


@router.get(
    "/participants/{participant_id}/months",
    response_model=MonthList,
    summary="Per calendar month of the window: days by category, provisional, fee and what was invoiced",
)
async def get_months(
    participant_id: Uuid, principal: CurrentPrincipal, db: DatabaseDep, audit: ReadAuditDep
) -> MonthList:
    view = await month_reads.participant_months(db, principal, participant_id)
    await audit.record(principal, view.programme_id, [participant_id])
    return MonthList(
        participant_id=participant_id,
        programme_id=view.programme_id,
        items=[MonthOut(**asdict(month)) for month in view.months],
    )


@router.get(
    "/participants/{participant_id}/months/{month}/explanation",
    response_model=ExplanationOut,
    summary="Which status records decided which days, the cut-off used and the rule applied",
)
async def get_explanation(
    participant_id: Uuid, month: str, principal: CurrentPrincipal, db: DatabaseDep, audit: ReadAuditDep
) -> ExplanationOut:
    view = await month_reads.explain(db, principal, participant_id, month)
    await audit.record(principal, view.programme_id, [participant_id])
    fields = asdict(view)
    del fields["programme_id"]
    fields["periods"] = [
        DecidingPeriod(
            from_=p.start,
            to=p.end,
            category=p.category,
            code=p.code,
            record_id=p.record_id,
            recording_seq=p.recording_seq,
            recorded_at=p.recorded_at,
        )
        for p in view.periods
    ]
    return ExplanationOut(**fields)


@router.post(
    "/programmes/{programme_id}/dry-run",
    response_model=DryRunOut,
    summary="Which months and amounts would change if these status records were posted; stores nothing",
)
async def dry_run(
    programme_id: str, body: DryRunRequest, principal: CurrentPrincipal, db: DatabaseDep
) -> DryRunOut:
    records = []
    for index, record in enumerate(body.records):
        valid_from, valid_to = (
            iso_week_range(record.iso_week) if record.iso_week else (record.valid_from, record.valid_to)
        )
        assert valid_from is not None
        records.append(
            (index, record.participant_id, StatusRecord("", record.code, valid_from, valid_to, 0, utcnow()))
        )
    changes = [
        DryRunChange(**asdict(c)) for c in await dry_run_service.dry_run(db, principal, programme_id, records)
    ]
    total = sum(
        (
            c.new_fee_dkk - (c.current_fee_dkk or Decimal("0"))
            for c in changes
            if not c.new_provisional and not c.current_provisional
        ),
        Decimal("0.00"),
    )
    return DryRunOut(changes=changes, total_change_dkk=total)
