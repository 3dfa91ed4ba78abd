"""A citizen's right of access (GDPR art. 15): progression's part, for intake's own identity only."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from libs.common.readaudit.api import reads_naming
from services.progression.api.deps import CallerDep, IntakeService
from services.progression.schemas import PeriodOut, TimelineOut
from services.progression.services import personal_data as service

router = APIRouter(prefix="/v1", tags=["personal data"])


class ParticipantCopyOut(BaseModel):
    participant_id: str
    programme_id: str
    track: str
    referred_on: date
    enrolled_on: date | None
    withdrawn_on: date | None
    updated_at: AwareDatetime


class RecordEntryOut(BaseModel):
    record_id: str
    code: str
    valid_from: date
    valid_to: date | None
    recording_seq: int
    recorded_at: AwareDatetime
    recorded_by: str | None = Field(description="The poster's token subject; null: before it was kept")
    source_record_id: str | None


class MeasurementEntryOut(BaseModel):
    measurement_id: str
    measured_on: date
    scores: dict[str, int]
    recorded_at: AwareDatetime
    recorded_by: str


class MilestoneEntryOut(BaseModel):
    milestone_id: str
    kind: str
    on: date
    note: str | None
    recorded_at: AwareDatetime
    recorded_by: str


class PersonalDataOut(BaseModel):
    service: str = "progression"
    participant: ParticipantCopyOut
    status_records: list[RecordEntryOut] = Field(description="Every record, in recording order")
    timeline: TimelineOut = Field(description="The resolved timeline as known now")
    measurements: list[MeasurementEntryOut]
    milestones: list[MilestoneEntryOut]
    # Who read this participant's data here: filled when progression keeps a read audit (issue 28).
    read_audit: list[dict[str, object]] = Field(default_factory=list)


@router.get(
    "/participants/{participant_id}/personal-data",
    response_model=PersonalDataOut,
    summary="Everything progression holds about one participant (intake's service identity only: a "
    "citizen's right of access)",
)
async def get_personal_data(
    participant_id: Uuid, _: IntakeService, caller: CallerDep, db: DatabaseDep
) -> PersonalDataOut:
    found = await service.personal_data(db, caller, participant_id)
    p, t = found.participant, found.timeline
    return PersonalDataOut(
        participant=ParticipantCopyOut(
            participant_id=p.participant_id,
            programme_id=p.programme_id,
            track=p.track,
            referred_on=p.referred_on,
            enrolled_on=p.enrolled_on,
            withdrawn_on=p.withdrawn_on,
            updated_at=p.updated_at,
        ),
        status_records=[RecordEntryOut.model_validate(r, from_attributes=True) for r in found.status_records],
        timeline=TimelineOut(
            participant_id=p.participant_id,
            programme_id=t.programme_id,
            as_of=None,
            data_complete_through=t.cutoff,
            periods=[
                PeriodOut(
                    from_=x.start, to=x.end, code=x.code, category=x.category.value, record_id=x.record_id
                )
                for x in t.periods
            ],
        ),
        measurements=[
            MeasurementEntryOut.model_validate(m, from_attributes=True) for m in found.measurements
        ],
        milestones=[MilestoneEntryOut.model_validate(m, from_attributes=True) for m in found.milestones],
        read_audit=await reads_naming(db, participant_id),
    )
