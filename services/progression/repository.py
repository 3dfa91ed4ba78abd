"""Progression's queries: add and flush, never commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.progression.models import ProgrammeRow


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str) -> ProgrammeRow | None:
        return await self.session.get(ProgrammeRow, programme_id)

    def add(self, row: ProgrammeRow) -> None:
        self.session.add(row)
