"""A programme's economics report: fees to date and projected, the investor's cash flows and IRR, the
municipality's savings (the rules: domain/economics/), and the assumptions they are computed under."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.db import Database
from libs.common.errors import ValidationFailed
from libs.common.uow import UnitOfWork
from services.settlement.domain.economics import (
    Assumptions,
    CohortMember,
    Economics,
    IssuedStatement,
    assumptions_from,
    project_economics,
    realised_irr,
)
from services.settlement.models import EconomicAssumptionsRow, StatementRow
from services.settlement.repository import (
    MonthRepository,
    StatementRepository,
)
from services.settlement.repository.invoices import InvoiceRepository
from services.settlement.services.outcomes import CohortFacts, evaluate_cohort, read_cohort, versions_or_404


async def stored_assumptions(uow: UnitOfWork, programme_id: str) -> tuple[Assumptions, str]:
    row = await uow.session.get(EconomicAssumptionsRow, programme_id)
    return (assumptions_from(row.assumptions), "programme") if row else (Assumptions(), "default")


@dataclass(frozen=True)
class EconomicsFacts:
    """What the economics are computed from, read in one transaction (``economics_facts``)."""

    cohort: CohortFacts
    assumptions: Assumptions
    source: str
    statements: list[StatementRow]
    fees: list[tuple[Decimal, bool]]  # (fee_dkk, provisional) of every month of the programme
    investor_payments: list[tuple[date, Decimal]]  # (paid_on, amount) on the investor's invoices


async def economics_facts(database: Database, principal: Principal, programme_id: str) -> EconomicsFacts:
    async with UnitOfWork(database) as uow:
        cohort = await read_cohort(uow, principal, programme_id)
        assumptions, source = await stored_assumptions(uow, programme_id)
        statements = list(await StatementRepository(uow.session).of_programme(programme_id))
        fees = await MonthRepository(uow.session).fees_of_programme(programme_id)
        payments = await InvoiceRepository(uow.session).payments_of_creditor(programme_id, "investor")
    return EconomicsFacts(cohort, assumptions, source, statements, fees, payments)


def economics(facts: EconomicsFacts) -> Economics:
    """The cohort evaluated, then the domain's projection of its economics (``project_economics``):
    pure work that grows with the cohort, so a route may do it beside the event loop."""
    cohort = evaluate_cohort(facts.cohort)
    members = [
        CohortMember(
            e.participant.track,
            e.participant.enrolled_on,
            e.participant.withdrawn_on,
            e.count.complete,
            e.projected,
            e.recent_share,
        )
        for e in cohort.evaluated
        if e.participant.enrolled_on is not None
    ]
    statements = [
        IssuedStatement(
            s.period,
            Decimal(s.content["totals"]["cumulative_invoiced"]),
            Decimal(s.content["totals"]["investor"]),
        )
        for s in facts.statements
    ]
    now = utcnow()
    projected = project_economics(
        cohort.programme_id,
        cohort.current,
        cohort.cutoff,
        members,
        cohort.baseline,
        statements,
        facts.fees,
        facts.assumptions,
        facts.source,
        today=now.date(),
        computed_at=now,
    )
    # Realised: the same investment out, then what the municipality actually paid on investor invoices.
    investment = next((f for f in projected.investor.cash_flows if f.kind == "investment"), None)
    investor = replace(
        projected.investor,
        paid_to_date_dkk=sum((amount for _, amount in facts.investor_payments), Decimal("0.00")),
        realised_irr_annual=realised_irr(investment, facts.investor_payments),
    )
    return replace(projected, investor=investor)


@dataclass(frozen=True)
class AssumptionsInUse:
    assumptions: Assumptions
    source: str  # "programme" (stored for it) or "default"


async def get_assumptions(database: Database, principal: Principal, programme_id: str) -> AssumptionsInUse:
    async with UnitOfWork(database) as uow:
        await versions_or_404(uow, principal, programme_id)
        assumptions, source = await stored_assumptions(uow, programme_id)
    return AssumptionsInUse(assumptions, source)


async def put_assumptions(
    database: Database, principal: Principal, programme_id: str, data: dict[str, Any]
) -> AssumptionsInUse:
    """Replace the programme's assumptions (rates per track and year, staircase, prior weeks)."""
    async with UnitOfWork(database) as uow:
        current = max(await versions_or_404(uow, principal, programme_id), key=lambda v: v.version)
        tracks = set(current.terms.tracks)
        for name in ("weekly_rates", "prior_weeks_on_support"):
            unknown = sorted(set(data.get(name, {})) - tracks)
            if unknown:
                raise ValidationFailed.for_field(
                    f"{name}.{unknown[0]}", f"not a track of the programme ({', '.join(sorted(tracks))})"
                )
        missing = sorted(tracks - set(data["weekly_rates"]))
        if missing:
            raise ValidationFailed.for_field(f"weekly_rates.{missing[0]}", "every track needs its rates")
        row = await uow.session.get(EconomicAssumptionsRow, programme_id)
        if row is None:
            row = EconomicAssumptionsRow(programme_id=programme_id)
            uow.session.add(row)
        row.assumptions, row.updated_at, row.updated_by = data, utcnow(), principal.subject
        await uow.commit()
    return AssumptionsInUse(assumptions_from(data), "programme")
