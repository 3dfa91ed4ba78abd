"""Erasing a participant (intake's participant.erased.v1, issue 28): every row progression holds of the
citizen goes, and a tombstone keeps the id from being stored again."""

from __future__ import annotations

from datetime import datetime

from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.progression.repository.erasure import ErasureRepository

log = get_logger(__name__)


async def erase_participant(uow: UnitOfWork, participant_id: str, erased_at: datetime) -> None:
    """Delete the participant's copy, status records, measurements, milestones (with their notes), its
    record ids in the batches' idempotency rows and the outbox rows naming it, and keep its tombstone,
    in the consumer's transaction. Again (a redelivery, a replay) it finds nothing more to delete."""
    counts = await ErasureRepository(uow.session).erase(participant_id, erased_at)
    log.info("participant_erased", **{f"{table}_deleted": n for table, n in sorted(counts.items())})


async def is_erased(uow: UnitOfWork, participant_id: str) -> bool:
    return await ErasureRepository(uow.session).is_erased(participant_id)


async def erased_among(uow: UnitOfWork, participant_ids: set[str]) -> set[str]:
    return await ErasureRepository(uow.session).erased_among(participant_ids)
