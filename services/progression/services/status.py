"""Status records: one or a batch (all or nothing, bulk-inserted), idempotent by the jobcenter's
source id or an Idempotency-Key; reading the raw records and the resolved timeline."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from libs.common.clock import as_utc, utcnow
from libs.common.coalesce import GroupWriter
from libs.common.contracts import (
    STATUS_CODES,
    StatusCategory,
    StatusCode,
    StatusRecordedJson,
    StatusRecordedV1,
)
from libs.common.cpr import keyed_fingerprint
from libs.common.db import Database
from libs.common.errors import Conflict, ServiceUnavailable, ValidationFailed, database_unavailable
from libs.common.events import prepare_events_json
from libs.common.ids import uuid7_str
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
    KnownParticipant,
    ParticipantRepository,
    ProgrammeRepository,
    StatusRecordRepository,
)
from services.progression.schemas import StatusRecordIn
from services.progression.services.context import Caller, IntakeDirectory
from services.progression.services.participants import (
    KnownParticipants,
    Reference,
    apply_lookup,
    choose_participant,
    cprs_to_look_up,
    keep_from_intake,
    known_participants,
    locally_known,
    parse_references,
    participant_for_reading,
    read_from_intake,
)

log = get_logger(__name__)


# The per-record objects of a batch are plain slotted dataclasses, never changed after they are made:
# a frozen dataclass sets each field through object.__setattr__, 1.0 against 0.2 µs for nine fields,
# and a batch makes four such objects per record.
@dataclass(slots=True)
class StoredRecord:
    """A record as just stored: the columns of its row, without an ORM object per record."""

    record_id: str
    participant_id: str
    programme_id: str
    code: str
    valid_from: date
    valid_to: date | None
    recording_seq: int
    recorded_at: datetime
    source_record_id: str | None


@dataclass(slots=True)
class Recorded:
    row: StatusRecordRow | StoredRecord
    created: bool


def _period(record: StatusRecordIn) -> tuple[date, date | None]:
    if record.iso_week is not None:
        return iso_week_range(record.iso_week)
    assert record.valid_from is not None  # the schema requires one of the two
    return record.valid_from, record.valid_to


def _field(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if prefix else name


class _Raced(Exception):
    """An Idempotency-Key or source id was taken by an earlier request of the same group: the request
    starts over and finds what that request stored."""


class _NeedsIntake(Exception):
    """Participants progression has not heard of yet (statuses before the participants' events): keep
    them from intake, all of the request's at once, then start over."""

    def __init__(self, participant_ids: set[str]) -> None:
        super().__init__()
        self.participant_ids = participant_ids


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


@dataclass
class _Write:
    """One request as the group writer takes it: its records, who names whom, and who asks."""

    records: list[StatusRecordIn]
    refs: list[Reference]
    caller: Caller
    prefix: str  # "records[{}]." for a batch: how a bad record is named in the 422
    batch_request: dict[str, Any] | None  # the Idempotency-Key's row, without its record ids
    asked_intake: bool  # participants unknown here have been kept from intake already


_Outcome = list["Recorded"] | Exception


async def record_statuses(
    database: Database,
    directory: IntakeDirectory,
    fingerprint_key: bytes,
    caller: Caller,
    records: list[StatusRecordIn],
    *,
    batch: bool,
    idempotency_key: str | None = None,
) -> list[Recorded]:
    """Store the records in one transaction: every record is valid, or nothing is stored and the 422
    names each bad record (``records[i].field``). A record whose source id is known with the same
    content is the stored one (not created again); with other content it is a conflict.

    Records that name their citizen by CPR cost one call to intake's batch lookup for all the request's
    numbers, made with the jobcenter's own token before the records are written (and not repeated when
    the request starts over); records naming a participant id need no call for a participant
    progression knows, and the participants it has not heard of yet cost one call to intake's batch
    read for all of them, after which the request starts over.

    The records are checked and stored by the group writer, together with the other requests waiting
    to be stored: one transaction, one query for all their participants, one for their source ids and
    one commit, however many requests the group holds."""
    fingerprint = (
        keyed_fingerprint(fingerprint_key, [r.model_dump(mode="json") for r in records])
        if idempotency_key is not None
        else ""
    )
    asked_intake = False
    refs = _references(records)
    cprs = cprs_to_look_up(refs)
    found: dict[str, list[dict[str, Any]]] | None = None
    for attempt in range(4):
        if idempotency_key is not None:
            async with UnitOfWork(database, read_only=True) as uow:
                replay = await _replay(uow, caller, idempotency_key, fingerprint)
            if replay is not None:
                return replay
        if found is None:
            found = await directory.lookup_cprs(cprs, caller) if cprs else {}
        if attempt:  # the writer set rows and errors on the last attempt's references
            refs = _references(records)
        apply_lookup(refs, caller, found)
        batch_request = (
            {
                "actor": caller.principal.subject,
                "key": idempotency_key,
                "request_fingerprint": fingerprint,
                "created_at": utcnow(),
            }
            if idempotency_key is not None
            else None
        )
        write = _Write(records, refs, caller, "records[{}]." if batch else "", batch_request, asked_intake)
        outcome = await _group_writer(database).submit(write)
        if isinstance(outcome, _NeedsIntake):
            await _keep_from_intake(database, directory, outcome.participant_ids, found)
            asked_intake = True
            continue
        if isinstance(outcome, _Raced):
            continue
        if isinstance(outcome, Exception):
            raise outcome
        created = sum(1 for r in outcome if r.created)
        log.info("status_records_recorded", created=created, repeated=len(outcome) - created)
        return outcome
    raise ServiceUnavailable("The records could not be stored for concurrent changes; retry.")


def _checked(write: _Write, known: KnownParticipants) -> list[_NewRecord] | Exception:
    """The request's records with their participants, or the error the request gets."""
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
        return _NeedsIntake(unknown)
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
        return ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors=errors)
    prepared = []
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
            )
        )
    return prepared


def _references(records: list[StatusRecordIn]) -> list[Reference]:
    """How each record names its citizen, each CPR's form checked (no call, no database)."""
    refs = [Reference(i, r.participant_id, r.cpr, r.programme_id) for i, r in enumerate(records)]
    parse_references(refs)
    return refs


async def _keep_from_intake(
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


_WRITERS: weakref.WeakKeyDictionary[Database, GroupWriter[_Write, _Outcome]] = weakref.WeakKeyDictionary()


def _group_writer(database: Database) -> GroupWriter[_Write, _Outcome]:
    writer = _WRITERS.get(database)
    if writer is None:
        writer = GroupWriter(
            lambda items: _store(database, items),
            max_items=256,
            max_weight=20_000,
            weight=lambda item: max(1, len(item.records)),
            shared_failure=database_unavailable,
        )
        _WRITERS[database] = writer
    return writer


def _same_content(stored: StatusRecordRow, record: _NewRecord) -> bool:
    return (stored.participant_id, stored.code, stored.valid_from, stored.valid_to) == (
        record.participant_id,
        record.code,
        record.valid_from,
        record.valid_to,
    )


async def _store(database: Database, items: Sequence[_Write]) -> list[_Outcome]:
    """Check and store the records of several requests in one transaction. Each request's outcome is
    its records in request order, or the error that request gets (bad references, a source id known
    with other content, a participant to read from intake first, or an Idempotency-Key or source id
    taken by an earlier request of the same group: start over)."""
    async with UnitOfWork(database) as uow:
        known_people = await known_participants(
            uow, (ref for item in items for ref in item.refs), for_update=True
        )
        checked = [_checked(item, known_people) for item in items]
        status_repo = StatusRecordRepository(uow.session)
        known = await status_repo.by_source_ids(
            (r.programme_id, r.source_record_id)
            for records in checked
            if not isinstance(records, Exception)
            for r in records
            if r.source_record_id is not None
        )
        keys = {(i.batch_request["actor"], i.batch_request["key"]) for i in items if i.batch_request}
        taken_keys = await BatchRepository(uow.session).existing(keys)
        claimed: set[tuple[str, str]] = set()
        outcomes: list[list[Recorded | _NewRecord] | Exception] = []
        for item, records in zip(items, checked, strict=True):
            if isinstance(records, Exception):
                outcomes.append(records)
                continue
            key = (item.batch_request["actor"], item.batch_request["key"]) if item.batch_request else None
            # Source ids this item would store that an earlier item of the group stores: start over.
            sources = {
                (r.programme_id, r.source_record_id)
                for r in records
                if r.source_record_id and (r.programme_id, r.source_record_id) not in known
            }
            if (key is not None and key in taken_keys) or sources & claimed:
                outcomes.append(_Raced())
                continue
            planned: list[Recorded | _NewRecord] = []
            conflict: Conflict | None = None
            for record in records:
                stored = known.get((record.programme_id, record.source_record_id or ""))
                if stored is None:
                    planned.append(record)
                elif _same_content(stored, record):
                    planned.append(Recorded(stored, created=False))
                else:
                    conflict = Conflict(
                        f"source_record_id {record.source_record_id} was recorded with other content",
                        index=record.index,
                        record_id=stored.record_id,
                    )
                    break
            if conflict is not None:
                outcomes.append(conflict)
                continue
            claimed |= sources
            if key is not None:
                taken_keys.add(key)
            outcomes.append(planned)
        new = [r for o in outcomes if not isinstance(o, Exception) for r in o if isinstance(r, _NewRecord)]
        rows = await _insert(uow, new, known_people.all())
        batch_repo = BatchRepository(uow.session)
        results: list[_Outcome] = []
        for item, outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, Exception):
                results.append(outcome)
                continue
            recorded = [
                Recorded(rows[r.record_id], created=True) if isinstance(r, _NewRecord) else r for r in outcome
            ]
            if item.batch_request is not None:
                batch_repo.add(
                    BatchRequestRow(**item.batch_request, record_ids=[r.row.record_id for r in recorded])
                )
            results.append(recorded)
        await uow.commit()
    return results


async def _insert(
    uow: UnitOfWork, new: list[_NewRecord], people: dict[str, KnownParticipant]
) -> dict[str, StoredRecord]:
    """Number the records per participant in order, bulk-insert them and announce each. ``people``
    were read (and locked) in this transaction."""
    if not new:
        return {}
    next_seq = {r.participant_id: people[r.participant_id].last_recording_seq + 1 for r in new}
    defaults = {code.value: category.value for code, (_, category) in STATUS_CODES.items()}
    categories = {
        person.programme_id: person.status_categories or defaults
        for person in (people[r.participant_id] for r in new)
    }
    now = utcnow()
    stored: list[StoredRecord] = []
    payloads: list[tuple[str, str, str]] = []
    event_type = StatusRecordedV1.event_type
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
            )
        )
        payloads.append(
            (
                event_type,
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
        )
    for event in prepare_events_json(payloads, time=now):
        uow.emit(event)
    await StatusRecordRepository(uow.session).insert_many(stored)
    await ParticipantRepository(uow.session).set_recording_seqs(
        {pid: seq - 1 for pid, seq in next_seq.items()}
    )
    return {record.record_id: record for record in stored}


async def _replay(uow: UnitOfWork, caller: Caller, key: str, fingerprint: str) -> list[Recorded] | None:
    stored = await BatchRepository(uow.session).get(caller.principal.subject, key)
    if stored is None:
        return None
    if stored.request_fingerprint != fingerprint:
        raise ValidationFailed.for_field("Idempotency-Key", "already used with another request")
    rows = {row.record_id: row for row in await StatusRecordRepository(uow.session).by_ids(stored.record_ids)}
    return [Recorded(rows[record_id], created=False) for record_id in stored.record_ids]


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
