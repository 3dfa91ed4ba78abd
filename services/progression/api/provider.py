"""The provider's progression measurements and milestones."""

from __future__ import annotations

from fastapi import APIRouter, status

from libs.common.clock import as_utc
from libs.common.contracts import MilestoneKind
from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from services.progression.api.deps import CallerDep, PersonLevelReader, Provider
from services.progression.domain import change_since_first, group_averages
from services.progression.models import MeasurementRow, MilestoneRow
from services.progression.schemas import (
    MeasurementIn,
    MeasurementList,
    MeasurementOut,
    MilestoneIn,
    MilestoneList,
    MilestoneOut,
)
from services.progression.services import provider

router = APIRouter(prefix="/v1", tags=["provider"])


def measurement_out(row: MeasurementRow) -> MeasurementOut:
    return MeasurementOut(
        measurement_id=row.measurement_id,
        measured_on=row.measured_on,
        scores=row.scores,
        group_averages=group_averages(row.scores),
        recorded_at=as_utc(row.recorded_at),
    )


def milestone_out(row: MilestoneRow) -> MilestoneOut:
    return MilestoneOut(
        milestone_id=row.milestone_id,
        kind=MilestoneKind(row.kind),
        on=row.on,
        note=row.note,
        recorded_at=as_utc(row.recorded_at),
    )


@router.post(
    "/participants/{participant_id}/measurements",
    status_code=status.HTTP_201_CREATED,
    response_model=MeasurementOut,
    summary="Record a progression measurement: the 12 indicators, each 1-10 (provider)",
)
async def post_measurement(
    participant_id: Uuid, body: MeasurementIn, _: Provider, caller: CallerDep, db: DatabaseDep
) -> MeasurementOut:
    return measurement_out(await provider.record_measurement(db, caller, participant_id, body))


@router.get(
    "/participants/{participant_id}/measurements",
    response_model=MeasurementList,
    summary="Measurements with per-group averages and the change since the first",
)
async def get_measurements(
    participant_id: Uuid, _: PersonLevelReader, caller: CallerDep, db: DatabaseDep
) -> MeasurementList:
    rows = list(await provider.measurements(db, caller, participant_id))
    return MeasurementList(
        items=[measurement_out(row) for row in rows],
        change_since_first=change_since_first([row.scores for row in rows]),
    )


@router.post(
    "/participants/{participant_id}/milestones",
    status_code=status.HTTP_201_CREATED,
    response_model=MilestoneOut,
    summary="Record a milestone (provider)",
)
async def post_milestone(
    participant_id: Uuid, body: MilestoneIn, _: Provider, caller: CallerDep, db: DatabaseDep
) -> MilestoneOut:
    return milestone_out(await provider.record_milestone(db, caller, participant_id, body))


@router.get("/participants/{participant_id}/milestones", response_model=MilestoneList, summary="Milestones")
async def get_milestones(
    participant_id: Uuid, _: PersonLevelReader, caller: CallerDep, db: DatabaseDep
) -> MilestoneList:
    return MilestoneList(
        items=[milestone_out(row) for row in await provider.milestones(db, caller, participant_id)]
    )
