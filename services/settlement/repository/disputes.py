"""Dispute queries: disputes, the lines each covers (held while open) and their steps."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.settlement.domain.disputes import DisputeState
from services.settlement.models import (
    DisputeLineRow,
    DisputeRow,
    DisputeStepRow,
    StatementLineRow,
    StatementRow,
)

lines_table = typing.cast(Table, StatementLineRow.__table__)
OPEN = DisputeState.open.value
ZERO = Decimal("0.00")
CHUNK = 500  # ids per IN query: well under SQLite's bound parameters


def _money(value: object) -> Decimal:
    """A SUM as Decimal in øre (SQLite may answer a float or an int)."""
    return Decimal(str(value)).quantize(ZERO)


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


class DisputeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def held_by_creditor(self, programme_id: str) -> dict[str, Decimal]:
        """What the programme's open disputes hold, per creditor: ``{"provider": ..., "investor": ...}``.
        Each dispute's amount is split when it is opened as statements split (the investor's percent of
        the statement's terms, rounded half-up to øre, the provider the rest), so the two add up to the
        held amount and a resolution releases exactly the shares it held."""
        query = select(
            func.coalesce(func.sum(DisputeRow.investor_dkk), ZERO),
            func.coalesce(func.sum(DisputeRow.provider_dkk), ZERO),
        ).where(DisputeRow.programme_id == programme_id, DisputeRow.state == OPEN)
        investor, provider = (await self.session.execute(query)).one()
        return {"provider": _money(provider), "investor": _money(investor)}

    async def statement_for_update(self, statement_id: str) -> StatementRow | None:
        """The statement, locked (a row lock on PostgreSQL): one opening of its lines at a time."""
        query = select(StatementRow).where(StatementRow.statement_id == statement_id).with_for_update()
        return (await self.session.scalars(query)).first()

    async def get(self, dispute_id: str, *, for_update: bool = False) -> DisputeRow | None:
        query = select(DisputeRow).where(DisputeRow.dispute_id == dispute_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query)).first()

    async def statement_lines(
        self, statement_id: str, line_no: int | None, month: str | None, kind: str | None
    ) -> Sequence[StatementLineRow]:
        """The lines a dispute would cover: one by number, or those of a (month, kind) cell."""
        query = select(StatementLineRow).where(StatementLineRow.statement_id == statement_id)
        if line_no is not None:
            query = query.where(StatementLineRow.line_no == line_no)
        else:
            query = query.where(StatementLineRow.month == month, StatementLineRow.kind == kind)
        return (await self.session.scalars(query.order_by(StatementLineRow.line_no))).all()

    async def holding(self, statement_id: str, line_nos: Sequence[int]) -> list[str]:
        """The open disputes holding any of these lines of the statement."""
        query = (
            select(DisputeLineRow.dispute_id)
            .where(
                DisputeLineRow.statement_id == statement_id,
                DisputeLineRow.line_no.in_(line_nos),
                DisputeLineRow.held.is_(True),
            )
            .distinct()
        )
        return list((await self.session.scalars(query)).all())

    async def lines(self, dispute_id: str) -> Sequence[DisputeLineRow]:
        query = select(DisputeLineRow).where(DisputeLineRow.dispute_id == dispute_id)
        return (await self.session.scalars(query.order_by(DisputeLineRow.line_no))).all()

    async def steps(self, dispute_id: str) -> Sequence[DisputeStepRow]:
        query = select(DisputeStepRow).where(DisputeStepRow.dispute_id == dispute_id)
        return (await self.session.scalars(query.order_by(DisputeStepRow.seq))).all()

    async def lines_of(self, dispute_ids: Sequence[str]) -> dict[str, list[DisputeLineRow]]:
        """The lines of each of these disputes, by line number (an IN query per ``CHUNK`` ids)."""
        found: dict[str, list[DisputeLineRow]] = {d: [] for d in dispute_ids}
        for ids in _chunks(dispute_ids):
            query = select(DisputeLineRow).where(DisputeLineRow.dispute_id.in_(ids))
            for line in (await self.session.scalars(query.order_by(DisputeLineRow.line_no))).all():
                found[line.dispute_id].append(line)
        return found

    async def steps_of(self, dispute_ids: Sequence[str]) -> dict[str, list[DisputeStepRow]]:
        """The steps of each of these disputes, in order (an IN query per ``CHUNK`` ids)."""
        found: dict[str, list[DisputeStepRow]] = {d: [] for d in dispute_ids}
        for ids in _chunks(dispute_ids):
            query = select(DisputeStepRow).where(DisputeStepRow.dispute_id.in_(ids))
            for step in (await self.session.scalars(query.order_by(DisputeStepRow.seq))).all():
                found[step.dispute_id].append(step)
        return found

    async def naming(self, programme_id: str, participant_id: str) -> Sequence[DisputeRow]:
        """The programme's disputes with a line naming this participant, in the order opened."""
        named = select(DisputeLineRow.dispute_id).where(DisputeLineRow.participant_id == participant_id)
        query = select(DisputeRow).where(
            DisputeRow.programme_id == programme_id, DisputeRow.dispute_id.in_(named)
        )
        return (await self.session.scalars(query.order_by(DisputeRow.opened_at, DisputeRow.dispute_id))).all()

    async def of_programme(
        self,
        programme_id: str,
        state: str | None = None,
        opened_role: str | None = None,
        statement_id: str | None = None,
    ) -> Sequence[DisputeRow]:
        query = select(DisputeRow).where(DisputeRow.programme_id == programme_id)
        if state is not None:
            query = query.where(DisputeRow.state == state)
        if opened_role is not None:
            query = query.where(DisputeRow.opened_role == opened_role)
        if statement_id is not None:
            query = query.where(DisputeRow.statement_id == statement_id)
        return (await self.session.scalars(query.order_by(DisputeRow.opened_at, DisputeRow.dispute_id))).all()

    async def open_participants(self, programme_id: str) -> dict[str, set[str]]:
        """Per open dispute of the programme, the citizens of its lines."""
        query = (
            select(DisputeLineRow.dispute_id, DisputeLineRow.participant_id)
            .join(DisputeRow, DisputeRow.dispute_id == DisputeLineRow.dispute_id)
            .where(DisputeRow.programme_id == programme_id, DisputeRow.state == "open")
        )
        found: dict[str, set[str]] = {}
        for dispute_id, participant_id in (await self.session.execute(query)).all():
            found.setdefault(dispute_id, set()).add(participant_id)
        return found

    async def upheld_lines(self, programme_id: str, before: datetime) -> dict[tuple[str, int], str]:
        """(statement_id, line_no) of each line an upheld dispute of the programme opened before a
        moment covered -> that dispute (the latest opened, should a line have several)."""
        query = (
            select(DisputeLineRow.statement_id, DisputeLineRow.line_no, DisputeRow.dispute_id)
            .join(DisputeRow, DisputeRow.dispute_id == DisputeLineRow.dispute_id)
            .where(
                DisputeRow.programme_id == programme_id,
                DisputeRow.state == DisputeState.upheld.value,
                DisputeRow.opened_at < before,
            )
            .order_by(DisputeRow.opened_at, DisputeRow.dispute_id)
        )
        return {(s, n): d for s, n, d in (await self.session.execute(query)).all()}

    async def next_step(self, dispute_id: str) -> int:
        query = select(func.coalesce(func.max(DisputeStepRow.seq), 0)).where(
            DisputeStepRow.dispute_id == dispute_id
        )
        return int((await self.session.execute(query)).scalar_one()) + 1

    async def release(self, dispute_id: str) -> None:
        """The dispute's lines are held no longer (null never collides in the unique key)."""
        await self.session.execute(
            update(DisputeLineRow).where(DisputeLineRow.dispute_id == dispute_id).values(held=None)
        )

    def add(self, row: DisputeRow | DisputeLineRow | DisputeStepRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()
