"""Status records: storing those of one or more requests (each one record or a batch, all or nothing,
bulk-inserted), idempotent by the jobcenter's source id or an Idempotency-Key; reading the raw records
and the resolved timeline.

Requests sent at once are grouped into one write by ``services/progression/adapters.py``, which also
writes a request again when its outcome says so; nothing here knows of the grouping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from libs.common.clock import as_utc, utcnow
from libs.common.contracts import (
    STATUS_CODES,
    StatusCategory,
    StatusCode,
    StatusRecordedJson,
    StatusRecordedV1,
)
from libs.common.cpr import keyed_fingerprint
from libs.common.db import Database
from libs.common.errors import Conflict, ValidationFailed
from libs.common.events import new_events
from libs.common.ids import uuid7_str
from libs.common.tracing import SpanContext
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
from services.progression.models import BatchRequestRow, StatusRecordRow
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


# The per-record objects of a batch are plain slotted dataclasses, never changed after they are made:
# a frozen dataclass sets each field through object.__setattr__, and a batch makes several per record.
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


def stored_of(row: StatusRecordRow | StoredRecord) -> StoredRecord:
    """A record as the use cases return it: a stored row read back (its time in UTC), or one just
    stored."""
    if isinstance(row, StoredRecord):
        return row
    return StoredRecord(
        record_id=row.record_id,
        participant_id=row.participant_id,
        programme_id=row.programme_id,
        code=row.code,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        recording_seq=row.recording_seq,
        recorded_at=as_utc(row.recorded_at),
        source_record_id=row.source_record_id,
    )


@dataclass(slots=True)
class Recorded:
    row: StoredRecord
    created: bool


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


@dataclass(slots=True)
class StatusWrite:
    """One request's records as the status write takes them: who names whom, who asks, and the
    request's span context, whose trace its events carry whichever requests share its transaction."""

    records: list[StatusRecordIn]
    refs: list[Reference]
    caller: Caller
    prefix: str  # "records[{}]." for a batch: how a bad record is named in the 422
    batch_request: dict[str, Any] | None  # the Idempotency-Key's row, without its record ids
    asked_intake: bool  # participants unknown here have been kept from intake already
    trace: SpanContext  # NO_TRACE when the request has none

    def cprs(self) -> list[str]:
        """The CPR numbers intake must be asked for (one lookup for the request)."""
        return cprs_to_look_up(self.refs)


def new_write(
    caller: Caller,
    records: list[StatusRecordIn],
    found: dict[str, list[dict[str, Any]]] | None,
    *,
    batch: bool,
    idempotency_key: str | None,
    fingerprint: str,
    asked_intake: bool,
    trace: SpanContext,
) -> StatusWrite:
    """A request's write: each record's way of naming its citizen checked (no call, no database), and
    intake's answers for its CPR numbers (``found``) applied once they are known."""
    refs = [Reference(i, r.participant_id, r.cpr, r.programme_id) for i, r in enumerate(records)]
    parse_references(refs)
    if found is not None:
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
    return StatusWrite(
        records, refs, caller, "records[{}]." if batch else "", batch_request, asked_intake, trace
    )


def apply_found(write: StatusWrite, found: dict[str, list[dict[str, Any]]]) -> None:
    """Intake's answers for the request's CPR numbers, set on the records that name them."""
    apply_lookup(write.refs, write.caller, found)


def request_fingerprint(fingerprint_key: bytes, records: list[StatusRecordIn]) -> str:
    """What an Idempotency-Key is held to: a retry with the key must send the same records."""
    return keyed_fingerprint(fingerprint_key, [r.model_dump(mode="json") for r in records])


# What a status write decides for each request of its transaction.


@dataclass(slots=True)
class Stored:
    """The request's records in request order, each stored now or found stored before."""

    records: list[Recorded]


@dataclass(slots=True)
class Invalid:
    """Bad records (a bad reference, a source id repeated in the request): nothing of it is stored."""

    errors: list[dict[str, str]]

    def error(self) -> ValidationFailed:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in self.errors[:5])
        return ValidationFailed(summary, errors=self.errors)


@dataclass(slots=True)
class Conflicting:
    """A source id known with other content: nothing of the request is stored."""

    source_record_id: str | None
    index: int
    record_id: str

    def error(self) -> Conflict:
        return Conflict(
            f"source_record_id {self.source_record_id} was recorded with other content",
            index=self.index,
            record_id=self.record_id,
        )


@dataclass(slots=True)
class UnknownParticipants:
    """Participants progression has not heard of yet (statuses before the participants' events): keep
    them from intake, all of the request's at once, then write the request again."""

    participant_ids: set[str]


@dataclass(slots=True)
class Raced:
    """An Idempotency-Key or source id taken by an earlier request of the same transaction: write the
    request again, and it finds what that request stored."""


Outcome = Stored | Invalid | Conflicting | UnknownParticipants | Raced


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


async def list_records(database: Database, caller: Caller, participant_id: str) -> list[StoredRecord]:
    async with UnitOfWork(database) as uow:
        await participant_for_reading(uow, caller, participant_id)
        return [
            stored_of(row)
            for row in await StatusRecordRepository(uow.session).for_participant(participant_id)
        ]


@dataclass(frozen=True)
class Timeline:
    programme_id: str
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
    return Timeline(participant.programme_id, cutoff, resolve(records, categories, cutoff, start))
