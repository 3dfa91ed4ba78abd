"""A programme's summary: earned, invoiced, provisional, the cap and the split so far."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from libs.common.auth import Principal
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain import split_cumulative
from services.settlement.repository import FactsRepository, MonthRepository, StatementRepository
from services.settlement.services.programme_facts import terms_versions

log = get_logger(__name__)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Summary:
    earned: Decimal
    invoiced: Decimal
    provisional: Decimal
    total_cap: Decimal
    investor: Decimal
    provider: Decimal
    statements: int
    records_held: int
    cutoff: date | None


async def summary(database: Database, principal: Principal, programme_id: str) -> Summary:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database) as uow:
        versions = await terms_versions(uow, programme_id)
        if not versions:
            raise NotFound(f"No programme {programme_id}.")
        fees = await MonthRepository(uow.session).fees_of_programme(programme_id)
        statements = list(await StatementRepository(uow.session).of_programme(programme_id))
        facts = FactsRepository(uow.session)
        records_held = await facts.record_count(programme_id)
        cutoff_row = await facts.cutoff(programme_id)
    current = max(versions, key=lambda v: v.version)
    invoiced = Decimal(statements[-1].content["totals"]["cumulative_invoiced"]) if statements else ZERO
    investor, provider = split_cumulative(invoiced, current.terms.split.investor_percent)
    return Summary(
        earned=sum((fee for fee, provisional in fees if not provisional), ZERO).quantize(Decimal("0.01")),
        invoiced=invoiced,
        provisional=sum((fee for fee, provisional in fees if provisional), ZERO).quantize(Decimal("0.01")),
        total_cap=current.terms.total_cap_dkk,
        investor=investor,
        provider=provider,
        statements=len(statements),
        records_held=records_held,
        cutoff=cutoff_row.complete_through if cutoff_row else None,
    )
