"""Storing the status records of one or more requests in one transaction (each request one record or a
batch, all or nothing, bulk-inserted), idempotent by the jobcenter's source id or an Idempotency-Key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from libs.common.clock import utcnow
from libs.common.contracts import (
    STATUS_CODES,
    StatusRecordedJson,
    StatusRecordedV1,
)
from libs.common.db import Database
from libs.common.errors import ValidationFailed
from libs.common.events import new_events
from libs.common.ids import uuid7_str
from libs.common.uow import UnitOfWork
from services.progression.domain import iso_week_range
from services.progression.models import BatchRequestRow, StatusRecordRow
from services.progression.repository import (
    BatchRepository,
    KnownParticipant,
    ParticipantRepository,
    StatusRecordRepository,
)
from services.progression.schemas import StatusRecordIn
from services.progression.services.context import Caller, IntakeDirectory
from services.progression.services.participants import (
    KnownParticipants,
    Reference,
    choose_participant,
    keep_from_intake,
    known_participants,
    locally_known,
    read_from_intake,
)
from services.progression.services.status.records import (
    Conflicting,
    Invalid,
    Outcome,
    Raced,
    Recorded,
    StatusWrite,
    Stored,
    StoredRecord,
    UnknownParticipants,
    stored_of,
)


def _period(record: StatusRecordIn) -> tuple[date, date | None]:
    if record.iso_week is not None:
        return iso_week_range(record.iso_week)
    assert record.valid_from is not None  # the schema requires one of the two
    return record.valid_from, record.valid_to


def _field(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if prefix else name


@dataclass(slots=True)
class _NewRecord:
    index: int
    record_id: str
    participant_id: str
    programme_id: str
    code: str
    valid_from: date
    valid_to: date | None
    source_record_id: str | None
    recorded_by: str  # the token's subject: the record's feed in the data-quality monitor


async def record_statuses(database: Database, writes: Sequence[StatusWrite]) -> list[Outcome]:
    """Store the records of one or more requests in one transaction, and decide each request's outcome
    on its own: every record of a request is valid, or nothing of it is stored and each bad record is
    named (``records[i].field``). A record whose source id is known with the same content is the stored
    one (not created again); with other content the request is a conflict.

    One query reads all the requests' participants (locked), one their source ids and one their
    Idempotency-Keys; the new records are numbered per participant, inserted at once and each
    announced in its request's trace."""
    async with UnitOfWork(database) as uow:
        # Load: the participants named (locked: their sequence numbers move), the source ids and keys.
        people = await known_participants(
            uow, (ref for write in writes for ref in write.refs), for_update=True
        )
        checked = [_checked(write, people) for write in writes]
        known = await StatusRecordRepository(uow.session).by_source_ids(
            (r.programme_id, r.source_record_id)
            for records in checked
            if isinstance(records, list)
            for r in records
            if r.source_record_id is not None
        )
        keys = {(w.batch_request["actor"], w.batch_request["key"]) for w in writes if w.batch_request}
        taken_keys = await BatchRepository(uow.session).existing(keys)
        # Decide each request's outcome.
        plans = _decide(writes, checked, known, taken_keys)
        # Write the new records, emit their events in their request's trace, commit.
        now = utcnow()
        new = [r for plan in plans if isinstance(plan, list) for r in plan if isinstance(r, _NewRecord)]
        rows, events = await _insert(uow, new, people.all(), now)
        outcomes: list[Outcome] = []
        batch_repo = BatchRepository(uow.session)
        for write, plan in zip(writes, plans, strict=True):
            if not isinstance(plan, list):
                outcomes.append(plan)
                continue
            recorded = [
                Recorded(rows[r.record_id], created=True) if isinstance(r, _NewRecord) else r for r in plan
            ]
            written = [events[r.record_id] for r in plan if isinstance(r, _NewRecord)]
            for event in new_events(StatusRecordedV1, written, trace=write.trace, time=now):
                uow.emit(event)
            if write.batch_request is not None:
                batch_repo.add(
                    BatchRequestRow(**write.batch_request, record_ids=[r.row.record_id for r in recorded])
                )
            outcomes.append(Stored(recorded))
        await uow.commit()
    return outcomes


def _checked(
    write: StatusWrite, known: KnownParticipants
) -> list[_NewRecord] | Invalid | UnknownParticipants:
    """The request's records with their participants, or why they cannot be stored."""
    # A batch names each citizen many times: the participant is chosen once per way of naming them.
    chosen: dict[tuple[str | None, str | None, str | None], Reference] = {}
    unknown: set[str] = set()
    for ref in write.refs:
        if ref.error:
            continue
        naming = (ref.participant_id, ref.formatted_cpr, ref.programme_id)
        same = chosen.get(naming)
        if same is not None:
            ref.row, ref.error = same.row, same.error
            continue
        candidates = locally_known(ref, known)
        if candidates is None and ref.wanted_id is not None and not write.asked_intake:
            # Not chosen yet: every participant of the request unknown here is asked for in one call.
            unknown.add(ref.wanted_id)
            continue
        choose_participant(ref, write.caller, candidates or [])
        chosen[naming] = ref
    if unknown:
        return UnknownParticipants(unknown)
    errors = [
        {"field": _field(write.prefix.format(ref.index), ref.error[0]), "in": "body", "message": ref.error[1]}
        for ref in write.refs
        if ref.error
    ]
    seen_sources: dict[tuple[str, str], int] = {}
    for ref, record in zip(write.refs, write.records, strict=True):
        if ref.row is None or record.source_record_id is None:
            continue
        key = (ref.row.programme_id, record.source_record_id)
        if key in seen_sources:
            errors.append(
                {
                    "field": _field(write.prefix.format(ref.index), "source_record_id"),
                    "in": "body",
                    "message": f"repeats record {seen_sources[key]} of this request",
                }
            )
        seen_sources[key] = ref.index
    if errors:
        return Invalid(errors)
    prepared = []
    poster = write.caller.principal.subject
    for ref, record in zip(write.refs, write.records, strict=True):
        assert ref.row is not None
        prepared.append(
            _NewRecord(
                ref.index,
                uuid7_str(),  # time-ordered: the key of a fast-growing table here and in settlement
                ref.row.participant_id,
                ref.row.programme_id,
                record.code.value,
                *_period(record),
                record.source_record_id,
                poster,
            )
        )
    return prepared


def _decide(
    writes: Sequence[StatusWrite],
    checked: Sequence[list[_NewRecord] | Invalid | UnknownParticipants],
    known: dict[tuple[str, str], StatusRecordRow],
    taken_keys: set[tuple[str, str]],
) -> list[list[Recorded | _NewRecord] | Invalid | Conflicting | UnknownParticipants | Raced]:
    """Each request's plan, in order: its records (new, or the stored one of a known source id with the
    same content), or why it stores nothing. An Idempotency-Key or source id an earlier request of the
    transaction takes makes the later one write again."""
    claimed: set[tuple[str, str]] = set()
    plans: list[list[Recorded | _NewRecord] | Invalid | Conflicting | UnknownParticipants | Raced] = []
    for write, records in zip(writes, checked, strict=True):
        if not isinstance(records, list):
            plans.append(records)
            continue
        key = (write.batch_request["actor"], write.batch_request["key"]) if write.batch_request else None
        sources = {
            (r.programme_id, r.source_record_id)
            for r in records
            if r.source_record_id and (r.programme_id, r.source_record_id) not in known
        }
        if (key is not None and key in taken_keys) or sources & claimed:
            plans.append(Raced())
            continue
        planned: list[Recorded | _NewRecord] = []
        conflict: Conflicting | None = None
        for record in records:
            stored = known.get((record.programme_id, record.source_record_id or ""))
            if stored is None:
                planned.append(record)
            elif _same_content(stored, record):
                planned.append(Recorded(stored_of(stored), created=False))
            else:
                conflict = Conflicting(record.source_record_id, record.index, stored.record_id)
                break
        if conflict is not None:
            plans.append(conflict)
            continue
        claimed |= sources
        if key is not None:
            taken_keys.add(key)
        plans.append(planned)
    return plans


async def keep_participants_from_intake(
    database: Database,
    directory: IntakeDirectory,
    participant_ids: set[str],
    found: dict[str, list[dict[str, Any]]],
) -> None:
    """Read the participants from intake (one call for the request, outside any transaction, so no
    writer waits on intake) and keep them in one short transaction."""
    participants = await read_from_intake(directory, participant_ids, found)
    async with UnitOfWork(database) as uow:
        await keep_from_intake(uow, participants)
        await uow.commit()


def _same_content(stored: StatusRecordRow, record: _NewRecord) -> bool:
    return (stored.participant_id, stored.code, stored.valid_from, stored.valid_to) == (
        record.participant_id,
        record.code,
        record.valid_from,
        record.valid_to,
    )


async def _insert(
    uow: UnitOfWork, new: list[_NewRecord], people: dict[str, KnownParticipant], now: datetime
) -> tuple[dict[str, StoredRecord], dict[str, tuple[str, str]]]:
    """Number the records per participant in order and bulk-insert them; returns them and, per record
    id, its status.recorded payload as written JSON with the event's subject. ``people`` were read (and
    locked) in this transaction."""
    if not new:
        return {}, {}
    next_seq = {r.participant_id: people[r.participant_id].last_recording_seq + 1 for r in new}
    defaults = {code.value: category.value for code, (_, category) in STATUS_CODES.items()}
    categories = {
        person.programme_id: person.status_categories or defaults
        for person in (people[r.participant_id] for r in new)
    }
    stored: list[StoredRecord] = []
    payloads: dict[str, tuple[str, str]] = {}
    payload_json = StatusRecordedJson(now)
    for record in new:
        seq = next_seq[record.participant_id]
        next_seq[record.participant_id] = seq + 1
        stored.append(
            StoredRecord(
                record.record_id,
                record.participant_id,
                record.programme_id,
                record.code,
                record.valid_from,
                record.valid_to,
                seq,
                now,
                record.source_record_id,
                record.recorded_by,
            )
        )
        payloads[record.record_id] = (
            payload_json(
                record_id=record.record_id,
                participant_id=record.participant_id,
                programme_id=record.programme_id,
                code=record.code,
                category=categories[record.programme_id][record.code],
                valid_from=record.valid_from,
                valid_to=record.valid_to,
                recording_seq=seq,
            ),
            f"participant/{record.participant_id}",
        )
    await StatusRecordRepository(uow.session).insert_many(stored)
    await ParticipantRepository(uow.session).set_recording_seqs(
        {pid: seq - 1 for pid, seq in next_seq.items()}
    )
    return {record.record_id: record for record in stored}, payloads


async def replay(database: Database, caller: Caller, key: str, fingerprint: str) -> list[Recorded] | None:
    """What the first request with this Idempotency-Key stored, or None when the key is new."""
    async with UnitOfWork(database, read_only=True) as uow:
        return await _replay(uow, caller, key, fingerprint)


async def _replay(uow: UnitOfWork, caller: Caller, key: str, fingerprint: str) -> list[Recorded] | None:
    stored = await BatchRepository(uow.session).get(caller.principal.subject, key)
    if stored is None:
        return None
    if stored.request_fingerprint != fingerprint:
        raise ValidationFailed.for_field("Idempotency-Key", "already used with another request")
    rows = {row.record_id: row for row in await StatusRecordRepository(uow.session).by_ids(stored.record_ids)}
    return [Recorded(stored_of(rows[record_id]), created=False) for record_id in stored.record_ids]
