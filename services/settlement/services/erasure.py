"""Erasing a participant (intake's participant.erased.v1, issue 28): settlement's person-level rows of
the citizen go (its copy, status records, their sequence and gap rows, months, measurement copies and
the outbox rows naming it), a tombstone keeps the id from being stored again, and the accounting records
stay (statement lines and parts, dispute lines, invoices, the statement and invoice events)."""

from __future__ import annotations

from datetime import datetime

from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.repository.erasure import ErasureRepository
from services.settlement.services.facts import FactsBatch

log = get_logger(__name__)


async def erase_participant(
    uow: UnitOfWork, batch: FactsBatch, participant_id: str, erased_at: datetime
) -> None:
    """Erase in the facts consumer's transaction, after the events before it in the stream: what this
    batch queued or touched of the participant is dropped too, so its end recomputes nothing of it.
    Again (a redelivery, a replay) it finds nothing more to delete."""
    repo = ErasureRepository(uow.session)
    await repo.lock(participant_id)
    batch.forget(participant_id)
    counts = await repo.erase(participant_id, erased_at)
    log.info("participant_erased", **{f"{table}_deleted": n for table, n in sorted(counts.items())})
