"""The programmes' terms versions: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.settlement.models import (
    ProgrammeTermsRow,
)


class TermsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str, version: int) -> ProgrammeTermsRow | None:
        return await self.session.get(ProgrammeTermsRow, (programme_id, version))

    async def versions(self, programme_id: str) -> Sequence[ProgrammeTermsRow]:
        query = (
            select(ProgrammeTermsRow)
            .where(ProgrammeTermsRow.programme_id == programme_id)
            .order_by(ProgrammeTermsRow.version)
        )
        return (await self.session.scalars(query)).all()

    def add(self, row: ProgrammeTermsRow) -> None:
        self.session.add(row)
