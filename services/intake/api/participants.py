"""Participant routes. CPR numbers travel in request bodies only, never in URLs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, status

from libs.common.deps import DatabaseDep
from libs.common.ids import NoCpr, Uuid
from libs.common.readaudit.api import ReadAuditDep
from services.intake.api.deps import (
    CallerDep,
    Jobcenter,
    JobcenterOrProvider,
    ParticipantBatchReader,
    ParticipantReader,
    PersonLevelReader,
    Protection,
)
from services.intake.domain import ParticipantStatus
from services.intake.schemas import (
    CoachChange,
    CprBatchLookup,
    CprLookup,
    Enrolment,
    LookupBatchOut,
    LookupFound,
    LookupRefused,
    ParticipantBatchRead,
    ParticipantList,
    ParticipantOut,
    ParticipantPage,
    Referral,
    Withdrawal,
)
from services.intake.services import participants
from services.intake.services.participants import ParticipantView

router = APIRouter(prefix="/v1", tags=["participants"])

IdempotencyKey = Annotated[
    NoCpr | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Makes a retried referral safe: the same key and body replay the first answer.",
    ),
]


def participant_out(view: ParticipantView) -> ParticipantOut:
    p = view.participant
    return ParticipantOut(
        participant_id=p.participant_id,
        programme_id=p.programme_id,
        track=p.track,
        status=p.status.value,
        cpr=view.cpr.formatted if view.cpr is not None else None,
        referred_on=p.referred_on,
        enrolled_on=p.enrolled_on,
        consent_given_on=p.consent_given_on,
        withdrawn_on=p.withdrawn_on,
        withdrawal_reason=p.withdrawal_reason,
        coach_name=p.coach_name,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@router.post(
    "/participants",
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantOut,
    summary="Refer a citizen to a programme (jobcenter)",
    responses={
        409: {"description": "The citizen is already a participant; the problem names participant_id"}
    },
)
async def refer(
    body: Referral,
    _: Jobcenter,
    caller: CallerDep,
    db: DatabaseDep,
    protection: Protection,
    idempotency_key: IdempotencyKey = None,
) -> ParticipantOut:
    return participant_out(await participants.refer(db, protection, caller, body, idempotency_key))


@router.post(
    "/participants/lookup",
    response_model=ParticipantList,
    summary="Find a citizen's participations by CPR (jobcenter); the CPR goes in the body",
)
async def lookup(
    body: CprLookup, _: Jobcenter, caller: CallerDep, db: DatabaseDep, protection: Protection
) -> ParticipantList:
    return ParticipantList(
        items=[participant_out(v) for v in await participants.lookup(db, protection, caller, body.cpr)]
    )


@router.post(
    "/participants/lookup-batch",
    response_model=LookupBatchOut,
    summary="Find many citizens' participations by CPR (jobcenter); the CPRs go in the body",
    responses={422: {"description": "More than 10,000 CPR numbers, or none; the problem names `cprs`"}},
)
async def lookup_batch(
    body: CprBatchLookup, _: Jobcenter, caller: CallerDep, db: DatabaseDep, protection: Protection
) -> LookupBatchOut:
    answers = await participants.lookup_batch(db, protection, caller, body.cprs)
    return LookupBatchOut(
        items=[
            LookupRefused(index=a.index, error=a.error)
            if a.error is not None
            else LookupFound(index=a.index, participants=[participant_out(v) for v in a.participants or []])
            for a in answers
        ]
    )


@router.post(
    "/participants/read-batch",
    response_model=ParticipantList,
    summary="Many participants by id, without any CPR (also progression's own identity); the ids go in "
    "the body",
    responses={
        422: {
            "description": "More than 10,000 ids, or none, or one that is not a UUID; the problem names "
            "`participant_ids` (or `participant_ids[i]`)"
        }
    },
)
async def read_batch(
    body: ParticipantBatchRead,
    _: ParticipantBatchReader,
    caller: CallerDep,
    db: DatabaseDep,
    audit: ReadAuditDep,
) -> ParticipantList:
    """A read: POST only because 10,000 ids do not fit in a URL. Asking again gives the same answer."""
    views = await participants.read_batch(db, caller, body.participant_ids)
    await audit.record_by_programme(
        caller.principal, ((v.participant.programme_id, v.participant.participant_id) for v in views)
    )
    return ParticipantList(items=[participant_out(v) for v in views])


@router.post(
    "/participants/{participant_id}/enrolment",
    response_model=ParticipantOut,
    summary="Enrol a referred citizen who has consented (jobcenter); 409 when the track is full",
    responses={
        409: {
            "description": "The track is full, the participant is already enrolled with other dates, or "
            "has been withdrawn"
        }
    },
)
async def enrol(
    participant_id: Uuid,
    body: Enrolment,
    _: Jobcenter,
    caller: CallerDep,
    db: DatabaseDep,
    protection: Protection,
) -> ParticipantOut:
    return participant_out(await participants.enrol(db, protection, caller, participant_id, body))


@router.post(
    "/participants/{participant_id}/withdrawal",
    response_model=ParticipantOut,
    summary="Withdraw a participant (jobcenter); the window ends the day before effective_on",
    responses={409: {"description": "Already withdrawn with another date or reason"}},
)
async def withdraw(
    participant_id: Uuid,
    body: Withdrawal,
    _: Jobcenter,
    caller: CallerDep,
    db: DatabaseDep,
    protection: Protection,
) -> ParticipantOut:
    return participant_out(await participants.withdraw(db, protection, caller, participant_id, body))


@router.put(
    "/participants/{participant_id}/coach",
    response_model=ParticipantOut,
    summary="Change the coach assigned to a participant (jobcenter or provider)",
)
async def change_coach(
    participant_id: Uuid,
    body: CoachChange,
    _: JobcenterOrProvider,
    caller: CallerDep,
    db: DatabaseDep,
    protection: Protection,
) -> ParticipantOut:
    return participant_out(await participants.change_coach(db, protection, caller, participant_id, body))


@router.get(
    "/participants",
    response_model=ParticipantPage,
    summary="Participants in the caller's programmes; the CPR only for the jobcenter, masked for others",
)
async def list_participants(
    _: PersonLevelReader,
    caller: CallerDep,
    db: DatabaseDep,
    protection: Protection,
    audit: ReadAuditDep,
    programme_id: str | None = None,
    participant_status: Annotated[ParticipantStatus | None, Query(alias="status")] = None,
    track: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ParticipantPage:
    page = await participants.list_participants(
        db,
        protection,
        caller,
        programme_id,
        participant_status.value if participant_status else None,
        track,
        cursor,
        limit,
    )
    await audit.record_by_programme(
        caller.principal,
        ((v.participant.programme_id, v.participant.participant_id) for v in page.items),
        programme_id,
    )
    return ParticipantPage(items=[participant_out(v) for v in page.items], next_cursor=page.next_cursor)


@router.get(
    "/participants/{participant_id}",
    response_model=ParticipantOut,
    summary="One participant; the CPR only for the jobcenter",
)
async def get_participant(
    participant_id: Uuid,
    _: ParticipantReader,
    caller: CallerDep,
    db: DatabaseDep,
    protection: Protection,
    audit: ReadAuditDep,
) -> ParticipantOut:
    view = await participants.get_participant(db, protection, caller, participant_id)
    await audit.record(caller.principal, view.participant.programme_id, [view.participant.participant_id])
    return participant_out(view)
