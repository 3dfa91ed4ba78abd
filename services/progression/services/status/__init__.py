"""Status records: storing those of one or more requests (each one record or a batch, all or nothing,
bulk-inserted), idempotent by the jobcenter's source id or an Idempotency-Key; reading the raw records
and the resolved timeline.

Requests sent at once are grouped into one write by ``services/progression/adapters.py``, which also
writes a request again when its outcome says so; nothing here knows of the grouping."""

from services.progression.services.status.reads import Timeline, list_records, resolved_timeline, timeline
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
    apply_found,
    new_write,
    request_fingerprint,
    stored_of,
)
from services.progression.services.status.write import (
    keep_participants_from_intake,
    record_statuses,
    replay,
)

__all__ = [
    "Conflicting",
    "Invalid",
    "Outcome",
    "Raced",
    "Recorded",
    "StatusWrite",
    "Stored",
    "StoredRecord",
    "Timeline",
    "UnknownParticipants",
    "apply_found",
    "keep_participants_from_intake",
    "list_records",
    "new_write",
    "record_statuses",
    "replay",
    "request_fingerprint",
    "resolved_timeline",
    "stored_of",
    "timeline",
]
