"""Intake's queries of the CPR audit: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import (
    CprAuditRow,
    ParticipantRow,
)


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: CprAuditRow) -> None:
        self.session.add(row)

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            # render_nulls: one statement for all rows; without it the ORM splits them by which
            # values are None (a lookup's rows with and without a participant).
            await self.session.execute(insert(CprAuditRow).execution_options(render_nulls=True), list(rows))

    async def page(
        self, participant_id: str | None, programmes: list[str] | None, after: int | None, limit: int
    ) -> list[CprAuditRow]:
        """``programmes``: only rows naming a participant of these (None: every row, also those naming
        none, such as a key rotation's)."""
        query = select(CprAuditRow)
        if programmes is not None:
            query = query.where(
                CprAuditRow.participant_id.in_(
                    select(ParticipantRow.participant_id).where(ParticipantRow.programme_id.in_(programmes))
                )
            )
        if participant_id is not None:
            query = query.where(CprAuditRow.participant_id == participant_id)
        if after is not None:
            query = query.where(CprAuditRow.seq > after)
        return list((await self.session.scalars(query.order_by(CprAuditRow.seq).limit(limit))).all())
