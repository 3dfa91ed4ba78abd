"""The provider's progression measurements and milestones."""

from __future__ import annotations

from fastapi import APIRouter, status

from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from libs.common.readaudit.api import ReadAuditDep
from services.progression.api.deps import CallerDep, PersonLevelReader, Provider
from services.progression.domain import change_since_first, group_averages
from services.progression.schemas import (
    MeasurementIn,
    MeasurementList,
    MeasurementOut,
    MilestoneIn,
    MilestoneList,
    MilestoneOut,
)
from services.progression.services import provider
from services.progression.services.provider import Measurement, Milestone

router = APIRouter(prefix="/v1", tags=["provider"])


def measurement_out(measurement: Measurement) -> MeasurementOut:
    return MeasurementOut(
        measurement_id=measurement.measurement_id,
        measured_on=measurement.measured_on,
        scores=measurement.scores,
        group_averages=group_averages(measurement.scores),
        recorded_at=measurement.recorded_at,
    )


def milestone_out(milestone: Milestone) -> MilestoneOut:
    return MilestoneOut(
        milestone_id=milestone.milestone_id,
        kind=milestone.kind,
        on=milestone.on,
        note=milestone.note,
        recorded_at=milestone.recorded_at,
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
    participant_id: Uuid, _: PersonLevelReader, caller: CallerDep, db: DatabaseDep, audit: ReadAuditDep
) -> MeasurementList:
    found = await provider.measurements(db, caller, participant_id)
    await audit.record(caller.principal, found.programme_id, [participant_id])
    return MeasurementList(
        items=[measurement_out(measurement) for measurement in found.items],
        change_since_first=change_since_first([measurement.scores for measurement in found.items]),
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
    participant_id: Uuid, _: PersonLevelReader, caller: CallerDep, db: DatabaseDep, audit: ReadAuditDep
) -> MilestoneList:
    found = await provider.milestones(db, caller, participant_id)
    await audit.record(caller.principal, found.programme_id, [participant_id])
    return MilestoneList(items=[milestone_out(milestone) for milestone in found.items])
