"""The status writer: status writes sent at once are written together, in one transaction, and each
request that its transaction sends back (a participant to read from intake first, a key or source id a
request before it took) is written again.

The grouping (``libs/common/coalesce.py``) shares a transaction's round trips and commit among the
requests that queue while one is written; the use case it calls, ``services.status.record_statuses``,
stores a list of requests and knows nothing of how they were gathered. One writer per running service,
made in the lifespan and held as ``app.state.status_writer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from libs.common.coalesce import GroupWriter
from libs.common.db import Database
from libs.common.errors import ServiceUnavailable, database_unavailable
from libs.common.logging import get_logger
from libs.common.tracing import NO_TRACE, current_trace
from services.progression.schemas import StatusRecordIn
from services.progression.services import status
from services.progression.services.context import Caller, IntakeDirectory

log = get_logger(__name__)

# How often a request is written again before its client is asked to retry.
_ATTEMPTS = 4


class StatusWriter:
    def __init__(self, database: Database, directory: IntakeDirectory, fingerprint_key: bytes) -> None:
        self._database = database
        self._directory = directory
        self._fingerprint_key = fingerprint_key
        self._group: GroupWriter[status.StatusWrite, status.Outcome] = GroupWriter(
            self._write,
            max_items=256,
            max_weight=20_000,
            weight=lambda write: max(1, len(write.records)),
            shared_failure=database_unavailable,
        )

    async def _write(self, writes: Sequence[status.StatusWrite]) -> list[status.Outcome]:
        return await status.record_statuses(self._database, writes)

    async def record(
        self,
        caller: Caller,
        records: list[StatusRecordIn],
        *,
        batch: bool,
        idempotency_key: str | None = None,
    ) -> list[status.Recorded]:
        """Store the request's records with the other requests waiting to be stored, or raise the
        error the request gets (422, 409, or 503 when it keeps meeting concurrent changes).

        Records that name their citizen by CPR cost one call to intake's batch lookup for all the
        request's numbers, made with the jobcenter's own token before the records are written (and not
        repeated when the request is written again); the participants progression has not heard of yet
        cost one call to intake's batch read for all of them, after which the request is written again.
        """
        # Taken here, in the request's own context: the group is written by whichever task drains it.
        trace = current_trace() or NO_TRACE
        fingerprint = (
            status.request_fingerprint(self._fingerprint_key, records) if idempotency_key is not None else ""
        )
        found: dict[str, list[dict[str, Any]]] | None = None
        asked_intake = False
        for _ in range(_ATTEMPTS):
            if idempotency_key is not None:
                replayed = await status.replay(self._database, caller, idempotency_key, fingerprint)
                if replayed is not None:
                    return replayed
            write = status.new_write(
                caller,
                records,
                found,
                batch=batch,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                asked_intake=asked_intake,
                trace=trace,
            )
            if found is None:
                cprs = write.cprs()
                found = await self._directory.lookup_cprs(cprs, caller) if cprs else {}
                status.apply_found(write, found)
            outcome = await self._group.submit(write)
            if isinstance(outcome, status.Stored):
                created = sum(1 for r in outcome.records if r.created)
                log.info("status_records_recorded", created=created, repeated=len(outcome.records) - created)
                return outcome.records
            if isinstance(outcome, status.Invalid | status.Conflicting):
                raise outcome.error()
            if isinstance(outcome, status.UnknownParticipants):
                await status.keep_participants_from_intake(
                    self._database, self._directory, outcome.participant_ids, found
                )
                asked_intake = True
            # Raced: written again, it finds what the request before it stored.
        raise ServiceUnavailable("The records could not be stored for concurrent changes; retry.")
