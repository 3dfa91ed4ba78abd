"""What a status write takes and gives: the records as stored and answered, the write of one request,
and the outcomes a write can have."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field

from libs.common.clock import as_utc, utcnow
from libs.common.cpr import keyed_fingerprint
from libs.common.errors import Conflict, ValidationFailed
from libs.common.tracing import SpanContext
from services.progression.models import StatusRecordRow
from services.progression.schemas import StatusRecordIn
from services.progression.services.context import Caller
from services.progression.services.participants import (
    Reference,
    apply_lookup,
    cprs_to_look_up,
    parse_references,
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
    # The poster's token subject (None: posted before it was kept): the data-quality monitor's, so left
    # out of the answers serialised from this class (excluded in the type: no cost per dump).
    recorded_by: Annotated[str | None, Field(exclude=True)] = None


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
        recorded_by=row.recorded_by,
    )


@dataclass(slots=True)
class Recorded:
    row: StoredRecord
    created: bool


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
