"""Erasing a participant's rows (participant.erased.v1) and the tombstone that refuses the id after."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.outbox import erase_from_outbox
from libs.common.readaudit import redact_participant
from services.progression.models import (
    BatchRequestRow,
    ErasedParticipantRow,
    MeasurementRow,
    MilestoneRow,
    ParticipantRow,
    StatusRecordRow,
)


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def is_erased(self, participant_id: str) -> bool:
        return await self.session.get(ErasedParticipantRow, participant_id) is not None

    async def erased_among(self, participant_ids: Iterable[str]) -> set[str]:
        wanted = set(participant_ids)
        if not wanted:
            return set()
        query = select(ErasedParticipantRow.participant_id).where(
            ErasedParticipantRow.participant_id.in_(wanted)
        )
        return set((await self.session.scalars(query)).all())

    async def erase(self, participant_id: str, erased_at: datetime) -> dict[str, int]:
        """Delete every row naming the participant and keep its tombstone; returns rows deleted per
        table. The participant's row goes first: a measurement, milestone or status write holds it
        locked (PostgreSQL) until it commits, so what it wrote is committed before the deletes below
        read their tables."""
        counts: dict[str, int] = {}
        participant = await self.session.execute(
            delete(ParticipantRow).where(ParticipantRow.participant_id == participant_id)
        )
        counts["participants"] = int(getattr(participant, "rowcount", 0) or 0)
        record_ids = list(
            (
                await self.session.scalars(
                    select(StatusRecordRow.record_id).where(StatusRecordRow.participant_id == participant_id)
                )
            ).all()
        )
        counts["batch_requests"] = await self._forget_batch_records(set(record_ids))
        for model in (StatusRecordRow, MeasurementRow, MilestoneRow):
            result: Any = await self.session.execute(
                delete(model).where(model.participant_id == participant_id)
            )
            counts[model.__tablename__] = int(result.rowcount or 0)
        counts["outbox"] = await erase_from_outbox(self.session, participant_id)
        counts["read_audit_subjects"] = await redact_participant(self.session, participant_id)
        if not await self.is_erased(participant_id):
            self.session.add(ErasedParticipantRow(participant_id=participant_id, erased_at=erased_at))
        await self.session.flush()
        return counts

    async def _forget_batch_records(self, record_ids: set[str]) -> int:
        """Take these record ids out of the batches that created them (their records are going); a
        batch left with none is deleted. Returns the batches changed."""
        if not record_ids:
            return 0
        as_text = cast(BatchRequestRow.record_ids, Text)
        # An erasure is rare and a participant has few records: one scan of the batches is enough.
        query = select(BatchRequestRow).where(
            or_(*(as_text.contains(record_id, autoescape=True) for record_id in sorted(record_ids)))
        )
        changed = 0
        for row in (await self.session.scalars(query)).all():
            kept = [record_id for record_id in row.record_ids if record_id not in record_ids]
            if len(kept) == len(row.record_ids):
                continue
            changed += 1
            if kept:
                row.record_ids = kept
            else:
                await self.session.delete(row)
        return changed
