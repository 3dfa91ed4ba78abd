"""The adjustment lines of a programme's issued statements: one query, lines as plain tuples."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.settlement.domain.corrections import AdjustmentLine
from services.settlement.models import StatementLineRow, StatementRow


async def adjustment_lines(session: AsyncSession, programme_id: str) -> list[AdjustmentLine]:
    """(statement_id, period, participant_id, month, amount) of every adjustment line issued."""
    query = (
        select(
            StatementLineRow.statement_id,
            StatementRow.period,
            StatementLineRow.participant_id,
            StatementLineRow.month,
            StatementLineRow.amount_dkk,
        )
        .join(StatementRow, StatementRow.statement_id == StatementLineRow.statement_id)
        .where(StatementRow.programme_id == programme_id, StatementLineRow.kind == "adjustment")
    )
    return [
        (statement_id, period, participant_id or "", month or "", Decimal(amount))
        for statement_id, period, participant_id, month, amount in await session.execute(query)
    ]


async def issued_statements(session: AsyncSession, programme_id: str) -> list[tuple[str, str]]:
    """(statement_id, period) of every statement issued for the programme."""
    query = select(StatementRow.statement_id, StatementRow.period).where(
        StatementRow.programme_id == programme_id
    )
    return [(statement_id, period) for statement_id, period in await session.execute(query)]
