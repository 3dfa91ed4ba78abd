"""The data-quality monitor's reads: a programme's records, exit milestones and participants, each in
one query for the whole programme (no query per participant), as plain tuples."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.progression.models import MilestoneRow, ParticipantRow, StatusRecordRow

RecordTuple = tuple[str, str, str, date, date | None, int, datetime, str | None]
MilestoneTuple = tuple[str, str, str, date, datetime]


class DataQualityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def records(self, programme_id: str) -> Sequence[RecordTuple]:
        """(participant_id, record_id, code, valid_from, valid_to, recording_seq, recorded_at,
        recorded_by) of every record of the programme, a participant's together in recording order."""
        query = (
            select(
                StatusRecordRow.participant_id,
                StatusRecordRow.record_id,
                StatusRecordRow.code,
                StatusRecordRow.valid_from,
                StatusRecordRow.valid_to,
                StatusRecordRow.recording_seq,
                StatusRecordRow.recorded_at,
                StatusRecordRow.recorded_by,
            )
            .where(StatusRecordRow.programme_id == programme_id)
            .order_by(StatusRecordRow.participant_id, StatusRecordRow.recording_seq)
        )
        return [tuple(row) for row in await self.session.execute(query)]  # type: ignore[misc]

    async def milestones(self, programme_id: str, kinds: Iterable[str]) -> Sequence[MilestoneTuple]:
        """(participant_id, milestone_id, kind, on, recorded_at) of the programme's milestones of
        these kinds."""
        query = select(
            MilestoneRow.participant_id,
            MilestoneRow.milestone_id,
            MilestoneRow.kind,
            MilestoneRow.on,
            MilestoneRow.recorded_at,
        ).where(MilestoneRow.programme_id == programme_id, MilestoneRow.kind.in_(sorted(kinds)))
        return [tuple(row) for row in await self.session.execute(query)]  # type: ignore[misc]

    async def referred_on(self, programme_id: str) -> dict[str, date]:
        query = select(ParticipantRow.participant_id, ParticipantRow.referred_on).where(
            ParticipantRow.programme_id == programme_id
        )
        return {pid: day for pid, day in await self.session.execute(query)}
