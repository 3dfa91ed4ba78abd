"""Status records and timelines. Only the jobcenter reports benefit status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from pydantic import TypeAdapter

from libs.common.clock import as_utc
from libs.common.dates import WorldDatetime
from libs.common.deps import DatabaseDep
from libs.common.errors import ValidationFailed
from libs.common.ids import NoCpr, Uuid
from libs.common.readaudit.api import ReadAuditDep
from services.progression.api.deps import CallerDep, JobcenterWriteDep, PersonLevelReader, RecordReader
from services.progression.models import StatusRecordRow
from services.progression.schemas import (
    PeriodOut,
    StatusBatchIn,
    StatusBatchOut,
    StatusRecordIn,
    StatusRecordList,
    StatusRecordOut,
    TimelineOut,
)
from services.progression.services import status as status_service
from services.progression.services.status import StoredRecord, stored_of

router = APIRouter(prefix="/v1", tags=["status"])


def record_out(row: StatusRecordRow | StoredRecord) -> StatusRecordOut:
    return StatusRecordOut.model_validate(stored_of(row), from_attributes=True)


@dataclass(frozen=True, slots=True)
class _BatchAnswer:
    created: int
    records: list[StoredRecord]


_BATCH_ANSWER = TypeAdapter(_BatchAnswer)


def batch_answer_json(created: int, rows: Sequence[StatusRecordRow | StoredRecord]) -> bytes:
    """``StatusBatchOut`` as JSON, serialised straight from the records."""
    return _BATCH_ANSWER.dump_json(_BatchAnswer(created, [stored_of(row) for row in rows]))


@router.post(
    "/status-records",
    status_code=status.HTTP_201_CREATED,
    response_model=StatusRecordOut,
    summary="Report one status period for a citizen (jobcenter)",
    responses={
        200: {"description": "This source_record_id was already recorded with the same content"},
        409: {"description": "This source_record_id was recorded with other content"},
    },
)
async def post_status_record(
    body: StatusRecordIn, write: JobcenterWriteDep, response: Response
) -> StatusRecordOut:
    [result] = await write.writer.record(write.caller, [body], batch=False)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return record_out(result.row)


@router.post(
    "/status-records/batch",
    status_code=status.HTTP_201_CREATED,
    response_model=StatusBatchOut,
    summary="Report up to 10,000 status periods at once (jobcenter): all or nothing",
    responses={
        200: {"description": "A retry with the same Idempotency-Key and body: the first result"},
        422: {"description": "Nothing stored; each bad record named by index and field"},
    },
)
async def post_status_batch(
    body: StatusBatchIn,
    write: JobcenterWriteDep,
    idempotency_key: Annotated[NoCpr | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    results = await write.writer.record(
        write.caller, body.records, batch=True, idempotency_key=idempotency_key
    )
    created = sum(1 for r in results if r.created)
    # Serialised here, from the stored records as they are: FastAPI would validate the 10,000 records
    # of the response model again, and a model per record was a share of a batch's CPU (figures:
    # docs/performance.md#first-session-2026-12-02).
    # The answer is the one StatusBatchOut documents (test_status_answers holds them equal).
    return Response(
        batch_answer_json(created, [r.row for r in results]),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        media_type="application/json",
    )


@router.get(
    "/participants/{participant_id}/status-records",
    response_model=StatusRecordList,
    summary="The raw records, in recording order, with recorded_at",
)
async def get_status_records(
    participant_id: Uuid, _: RecordReader, caller: CallerDep, db: DatabaseDep, audit: ReadAuditDep
) -> StatusRecordList:
    found = await status_service.list_records(db, caller, participant_id)
    await audit.record(caller.principal, found.programme_id, [participant_id])
    return StatusRecordList(items=[record_out(row) for row in found.items])


@router.get(
    "/participants/{participant_id}/timeline",
    response_model=TimelineOut,
    summary="The resolved timeline: non-overlapping periods; as_of reads it as it was known then",
)
async def get_timeline(
    participant_id: Uuid,
    _: PersonLevelReader,
    caller: CallerDep,
    db: DatabaseDep,
    audit: ReadAuditDep,
    as_of: WorldDatetime | None = None,
) -> TimelineOut:
    if as_of is not None and as_of.tzinfo is None:
        raise ValidationFailed.for_field("as_of", "must carry a time zone, e.g. 2024-05-01T12:00:00Z")
    result = await status_service.timeline(db, caller, participant_id, as_utc(as_of) if as_of else None)
    await audit.record(caller.principal, result.programme_id, [participant_id])
    return TimelineOut(
        participant_id=participant_id,
        programme_id=result.programme_id,
        as_of=as_of,
        data_complete_through=result.cutoff,
        periods=[
            PeriodOut(
                from_=p.start,
                to=p.end,
                code=p.code,
                category=p.category.value,
                record_id=p.record_id,
            )
            for p in result.periods
        ],
    )
