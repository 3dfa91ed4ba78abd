"""Status records: one or a batch (all or nothing, bulk-inserted), idempotent by the jobcenter's
source id or an Idempotency-Key; reading the raw records and the resolved timeline."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from libs.common.clock import as_utc, utcnow
from libs.common.contracts import STATUS_CODES, StatusCategory, StatusCode, StatusRecordedV1
from libs.common.cpr import keyed_fingerprint
from libs.common.db import Database
from libs.common.errors import Conflict, ValidationFailed
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from libs.rules.timeline import Period
from services.progression.domain import (
    Cutoff,
    StatusRecord,
    cutoff_as_of,
    iso_week_range,
    known_as_of,
    resolve,
)
from services.progression.models import BatchRequestRow, ParticipantRow, StatusRecordRow
from services.progression.repository import (
    BatchRepository,
    ParticipantRepository,
    ProgrammeRepository,
    StatusRecordRepository,
)
from services.progression.schemas import StatusRecordIn
from services.progression.services.context import Caller, IntakeDirectory
from services.progression.services.participants import (
    Reference,
    participant_for_reading,
    resolve_participants,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class Recorded:
    row: StatusRecordRow
    created: bool


def _period(record: StatusRecordIn) -> tuple[date, date | None]:
    if record.iso_week is not None:
        return iso_week_range(record.iso_week)
    assert record.valid_from is not None  # the schema requires one of the two
    return record.valid_from, record.valid_to


def _field(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if prefix else name


async def record_statuses(
    database: Database,
    directory: IntakeDirectory,
    pseudonym_key: bytes,
    caller: Caller,
    records: list[StatusRecordIn],
    *,
    batch: bool,
    idempotency_key: str | None = None,
) -> list[Recorded]:
    """Store the records in one transaction: every record is valid, or nothing is stored and the 422
    names each bad record (``records[i].field``). A record whose source id is known with the same
    content is the stored one (not created again); with other content it is a conflict."""
    prefix = "records[{}]." if batch else ""
    fingerprint = keyed_fingerprint(pseudonym_key, [r.model_dump(mode="json") for r in records])
    async with UnitOfWork(database) as uow:
        if idempotency_key is not None:
            replay = await _replay(uow, caller, idempotency_key, fingerprint)
            if replay is not None:
                return replay
        refs = [Reference(i, r.participant_id, r.cpr, r.programme_id) for i, r in enumerate(records)]
        await resolve_participants(uow, directory, pseudonym_key, caller, refs)
        errors = [
            {"field": _field(prefix.format(ref.index), ref.error[0]), "in": "body", "message": ref.error[1]}
            for ref in refs
            if ref.error
        ]
        seen_sources: dict[tuple[str, str], int] = {}
        for ref, record in zip(refs, records, strict=True):
            if ref.row is None or record.source_record_id is None:
                continue
            key = (ref.row.programme_id, record.source_record_id)
            if key in seen_sources:
                errors.append(
                    {
                        "field": _field(prefix.format(ref.index), "source_record_id"),
                        "in": "body",
                        "message": f"repeats record {seen_sources[key]} of this request",
                    }
                )
            seen_sources[key] = ref.index
        if errors:
            raise ValidationFailed(
                "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors=errors
            )

        status_repo = StatusRecordRepository(uow.session)
        known = await status_repo.by_source_ids(seen_sources)
        results: list[Recorded | None] = [None] * len(records)
        new: list[tuple[int, ParticipantRow, StatusRecordIn]] = []
        for ref, record in zip(refs, records, strict=True):
            assert ref.row is not None
            stored = known.get((ref.row.programme_id, record.source_record_id or ""))
            if stored is None:
                new.append((ref.index, ref.row, record))
                continue
            if (stored.participant_id, stored.code, stored.valid_from, stored.valid_to) != (
                ref.row.participant_id,
                record.code.value,
                *_period(record),
            ):
                raise Conflict(
                    f"source_record_id {record.source_record_id} was recorded with other content",
                    index=ref.index,
                    record_id=stored.record_id,
                )
            results[ref.index] = Recorded(stored, created=False)

        categories = await _categories(uow, {row.programme_id for _, row, _ in new})
        rows = await _insert(uow, new, categories)
        for (index, _, _), row in zip(new, rows, strict=True):
            results[index] = Recorded(row, created=True)
        final = [r for r in results if r is not None]
        if idempotency_key is not None:
            BatchRepository(uow.session).add(
                BatchRequestRow(
                    actor=caller.principal.subject,
                    key=idempotency_key,
                    request_fingerprint=fingerprint,
                    record_ids=[r.row.record_id for r in final],
                    created_at=utcnow(),
                )
            )
        await uow.commit()
    log.info("status_records_recorded", created=len(rows), repeated=len(final) - len(rows))
    return final


async def _replay(uow: UnitOfWork, caller: Caller, key: str, fingerprint: str) -> list[Recorded] | None:
    stored = await BatchRepository(uow.session).get(caller.principal.subject, key)
    if stored is None:
        return None
    if stored.request_fingerprint != fingerprint:
        raise ValidationFailed.for_field("Idempotency-Key", "already used with another request")
    rows = {row.record_id: row for row in await StatusRecordRepository(uow.session).by_ids(stored.record_ids)}
    return [Recorded(rows[record_id], created=False) for record_id in stored.record_ids]


async def _categories(uow: UnitOfWork, programme_ids: set[str]) -> dict[str, dict[str, str]]:
    programmes = await ProgrammeRepository(uow.session).many(programme_ids)
    defaults = {code.value: category.value for code, (_, category) in STATUS_CODES.items()}
    return {
        pid: (programmes[pid].status_categories if pid in programmes else defaults) for pid in programme_ids
    }


async def _insert(
    uow: UnitOfWork,
    new: list[tuple[int, ParticipantRow, StatusRecordIn]],
    categories: dict[str, dict[str, str]],
) -> list[StatusRecordRow]:
    """Number the records per participant in request order, bulk-insert them and announce each."""
    participants = ParticipantRepository(uow.session)
    counts: dict[str, int] = {}
    for _, row, _ in new:
        counts[row.participant_id] = counts.get(row.participant_id, 0) + 1
    next_seq: dict[str, int] = {}
    for participant_id, count in counts.items():
        last = await participants.take_recording_seqs(participant_id, count)
        next_seq[participant_id] = last - count + 1
    now = utcnow()
    values: list[dict[str, Any]] = []
    for _, participant, record in new:
        valid_from, valid_to = _period(record)
        seq = next_seq[participant.participant_id]
        next_seq[participant.participant_id] = seq + 1
        values.append(
            {
                "record_id": str(uuid.uuid4()),
                "participant_id": participant.participant_id,
                "programme_id": participant.programme_id,
                "code": record.code.value,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "recording_seq": seq,
                "recorded_at": now,
                "source_record_id": record.source_record_id,
            }
        )
    await StatusRecordRepository(uow.session).insert_many(values)
    for value in values:
        payload = StatusRecordedV1(
            record_id=value["record_id"],
            participant_id=value["participant_id"],
            programme_id=value["programme_id"],
            code=StatusCode(value["code"]),
            category=StatusCategory(categories[value["programme_id"]][value["code"]]),
            valid_from=value["valid_from"],
            valid_to=value["valid_to"],
            recording_seq=value["recording_seq"],
            recorded_at=now,
        )
        uow.emit(new_event(payload, subject=f"participant/{value['participant_id']}"))
    return [StatusRecordRow(**value) for value in values]


async def list_records(database: Database, caller: Caller, participant_id: str) -> list[StatusRecordRow]:
    async with UnitOfWork(database) as uow:
        await participant_for_reading(uow, caller, participant_id)
        return list(await StatusRecordRepository(uow.session).for_participant(participant_id))


@dataclass(frozen=True)
class Timeline:
    participant: ParticipantRow
    cutoff: date | None
    periods: list[Period]


async def timeline(
    database: Database, caller: Caller, participant_id: str, as_of: datetime | None
) -> Timeline:
    async with UnitOfWork(database) as uow:
        participant = await participant_for_reading(uow, caller, participant_id)
        rows = await StatusRecordRepository(uow.session).for_participant(participant_id)
        programme_repo = ProgrammeRepository(uow.session)
        programme = await programme_repo.get(participant.programme_id)
        history = [
            Cutoff(c.complete_through, as_utc(c.recorded_at))
            for c in await programme_repo.cutoffs(participant.programme_id)
        ]
    records = known_as_of(
        [
            StatusRecord(
                r.record_id,
                StatusCode(r.code),
                r.valid_from,
                r.valid_to,
                r.recording_seq,
                as_utc(r.recorded_at),
            )
            for r in rows
        ],
        as_of,
    )
    mapping = (
        programme.status_categories
        if programme
        else {c.value: cat.value for c, (_, cat) in STATUS_CODES.items()}
    )
    categories = {StatusCode(code): StatusCategory(category) for code, category in mapping.items()}
    cutoff = cutoff_as_of(history, as_of)
    start = min([participant.referred_on, *(r.valid_from for r in records)])
    return Timeline(participant, cutoff, resolve(records, categories, cutoff, start))
