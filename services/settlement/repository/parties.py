"""The programmes' parties versions: add and flush, never commit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.contracts import ProgrammeParties
from services.settlement.models import ProgrammePartiesRow


class PartiesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str, version: int) -> ProgrammePartiesRow | None:
        return await self.session.get(ProgrammePartiesRow, (programme_id, version))

    async def parties_as_of(self, programme_id: str, day: date) -> ProgrammeParties | None:
        """The parties in force on ``day``: the latest version taking effect on or before it (None
        before the first). Versions never take effect before the one they follow, so the highest
        number among those is the one."""
        found = await self.version_as_of(programme_id, day)
        return None if found is None else found[1]

    async def version_as_of(self, programme_id: str, day: date) -> tuple[int, ProgrammeParties] | None:
        """The number and the parties of the version in force on ``day`` (``parties_as_of``)."""
        query = (
            select(ProgrammePartiesRow.version, ProgrammePartiesRow.parties)
            .where(
                ProgrammePartiesRow.programme_id == programme_id, ProgrammePartiesRow.effective_from <= day
            )
            .order_by(ProgrammePartiesRow.version.desc())
            .limit(1)
        )
        stored = (await self.session.execute(query)).one_or_none()
        return None if stored is None else (stored[0], ProgrammeParties.model_validate(stored[1]))

    def add(self, row: ProgrammePartiesRow) -> None:
        self.session.add(row)
