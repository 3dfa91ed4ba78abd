"""Progression's queries: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.progression.models import (
    BatchRequestRow,
    CutoffRow,
    MeasurementRow,
    MilestoneRow,
    ParticipantRow,
    ProgrammeRow,
    StatusRecordRow,
)


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str, *, for_update: bool = False) -> ProgrammeRow | None:
        query = select(ProgrammeRow).where(ProgrammeRow.programme_id == programme_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query)).one_or_none()

    async def many(self, programme_ids: Iterable[str]) -> dict[str, ProgrammeRow]:
        rows = await self.session.scalars(
            select(ProgrammeRow).where(ProgrammeRow.programme_id.in_(set(programme_ids)))
        )
        return {row.programme_id: row for row in rows}

    def add(self, row: ProgrammeRow | CutoffRow) -> None:
        self.session.add(row)

    async def cutoffs(self, programme_id: str) -> Sequence[CutoffRow]:
        query = (
            select(CutoffRow)
            .where(CutoffRow.programme_id == programme_id)
            .order_by(CutoffRow.complete_through)
        )
        return (await self.session.scalars(query)).all()


class ParticipantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, participant_id: str) -> ParticipantRow | None:
        return await self.session.get(ParticipantRow, participant_id)

    async def by_ids(self, participant_ids: Iterable[str]) -> dict[str, ParticipantRow]:
        wanted = set(participant_ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(
            select(ParticipantRow).where(ParticipantRow.participant_id.in_(wanted))
        )
        return {row.participant_id: row for row in rows}

    async def by_pseudonyms(self, pseudonyms: Iterable[str]) -> list[ParticipantRow]:
        wanted = set(pseudonyms)
        if not wanted:
            return []
        query = select(ParticipantRow).where(ParticipantRow.cpr_pseudonym.in_(wanted))
        return list((await self.session.scalars(query)).all())

    def add(self, row: ParticipantRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def take_recording_seqs(self, participant_id: str, count: int) -> int:
        """Reserve ``count`` recording sequence numbers; returns the last one. The row update also
        serialises concurrent recordings for the participant."""
        result = await self.session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.participant_id == participant_id)
            .values(last_recording_seq=ParticipantRow.last_recording_seq + count)
            .returning(ParticipantRow.last_recording_seq)
        )
        return int(result.scalar_one())


class StatusRecordRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_participant(self, participant_id: str) -> Sequence[StatusRecordRow]:
        query = (
            select(StatusRecordRow)
            .where(StatusRecordRow.participant_id == participant_id)
            .order_by(StatusRecordRow.recording_seq)
        )
        return (await self.session.scalars(query)).all()

    async def by_ids(self, record_ids: Iterable[str]) -> list[StatusRecordRow]:
        query = select(StatusRecordRow).where(StatusRecordRow.record_id.in_(list(record_ids)))
        return list((await self.session.scalars(query)).all())

    async def by_source_ids(
        self, programme_source_ids: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StatusRecordRow]:
        pairs = set(programme_source_ids)
        if not pairs:
            return {}
        source_ids = {source for _, source in pairs}
        query = select(StatusRecordRow).where(StatusRecordRow.source_record_id.in_(source_ids))
        found = {}
        for row in await self.session.scalars(query):
            key = (row.programme_id, row.source_record_id or "")
            if key in pairs:
                found[key] = row
        return found

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """One executemany for the whole batch, not a statement per record."""
        if rows:
            await self.session.execute(insert(StatusRecordRow), rows)


class BatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, actor: str, key: str) -> BatchRequestRow | None:
        return await self.session.get(BatchRequestRow, (actor, key))

    def add(self, row: BatchRequestRow) -> None:
        self.session.add(row)


class ProviderRecordsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: MeasurementRow | MilestoneRow) -> None:
        self.session.add(row)

    async def measurements(self, participant_id: str) -> Sequence[MeasurementRow]:
        query = (
            select(MeasurementRow)
            .where(MeasurementRow.participant_id == participant_id)
            .order_by(MeasurementRow.measured_on, MeasurementRow.recorded_at)
        )
        return (await self.session.scalars(query)).all()

    async def milestones(self, participant_id: str) -> Sequence[MilestoneRow]:
        query = (
            select(MilestoneRow)
            .where(MilestoneRow.participant_id == participant_id)
            .order_by(MilestoneRow.on, MilestoneRow.recorded_at)
        )
        return (await self.session.scalars(query)).all()
