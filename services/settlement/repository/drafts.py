"""Statement drafts: a small row each (the lines are computed, never stored)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.settlement.models import StatementDraftRow

OPEN = "draft"
DISCARDED = "discarded"
ISSUED = "issued"


class DraftRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, draft_id: str, *, fresh: bool = False) -> StatementDraftRow | None:
        """``fresh``: read again from the database (after a lock was taken), not from the session."""
        return await self.session.get(StatementDraftRow, draft_id, populate_existing=fresh)

    async def open_for(self, programme_id: str, period: str) -> StatementDraftRow | None:
        query = select(StatementDraftRow).where(
            StatementDraftRow.programme_id == programme_id,
            StatementDraftRow.period == period,
            StatementDraftRow.state == OPEN,
        )
        return (await self.session.scalars(query)).first()

    async def of_programme(self, programme_id: str) -> Sequence[StatementDraftRow]:
        query = (
            select(StatementDraftRow)
            .where(StatementDraftRow.programme_id == programme_id)
            .order_by(StatementDraftRow.period, StatementDraftRow.prepared_at)
        )
        return (await self.session.scalars(query)).all()

    def add(self, row: StatementDraftRow) -> None:
        self.session.add(row)
