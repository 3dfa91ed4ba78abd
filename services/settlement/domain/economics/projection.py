"""A programme's economics projected: fees to date and to come (capped), the investor's cash flows and
IRR, the provider's share, and the municipality's savings net of the fees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from services.settlement.domain.calculation import Enrolment, window_for
from services.settlement.domain.economics.assumptions import Assumptions
from services.settlement.domain.economics.investor import CashFlow, irr
from services.settlement.domain.economics.savings import Citizen, avoided_support_savings
from services.settlement.domain.months import Month, months_of
from services.settlement.domain.outcomes import q
from services.settlement.domain.statements import split_cumulative
from services.settlement.domain.terms import TermsVersion

ZERO = Decimal("0")

METHOD = (
    "Savings: for each citizen, the weeks on public support the control group would have had "
    "(104 minus the track's baseline) minus their own (104 minus their self-supporting weeks, "
    "projected for open windows), valued at the benefit rate of each week's year and the "
    "municipality's share after the state refund staircase by cumulative weeks on support. Fees: "
    "invoiced to date, plus what is earned but not invoiced, plus each open window's remaining "
    "months at the citizen's recent self-supporting share, capped. Investor: the investment out "
    "in the month of the first enrolment, its share of each statement in the statement's month."
)


def cap_schedule(
    invoiced: Decimal, future: Sequence[tuple[Month, Decimal]], total_cap: Decimal
) -> list[tuple[Month, Decimal]]:
    """Future fee amounts by month, cut so that the cumulative total never passes the cap."""
    room = max(ZERO, total_cap - invoiced)
    out: list[tuple[Month, Decimal]] = []
    for month, amount in sorted(future, key=lambda item: item[0]):
        take = min(room, amount)
        if take > 0:
            out.append((month, take))
        room -= take
    return out


@dataclass(frozen=True)
class CohortMember:
    """What the economics need of an enrolled citizen's outcome (``services/outcomes.py`` evaluates it)."""

    track: str
    enrolled_on: date
    withdrawn_on: date | None
    window_complete: bool
    projected_weeks: Decimal  # self-supporting weeks of the window, projected when it is open
    recent_share: Decimal  # share used for the projection (self-supporting weeks of the last 13)


@dataclass(frozen=True)
class IssuedStatement:
    period: str
    cumulative_invoiced: Decimal
    investor: Decimal  # the investor's share of the statement


@dataclass(frozen=True)
class Fees:
    invoiced_to_date_dkk: Decimal
    earned_not_yet_invoiced_dkk: Decimal
    projected_further_dkk: Decimal
    projected_total_dkk: Decimal
    total_cap_dkk: Decimal
    statements: int


@dataclass(frozen=True)
class InvestorResult:
    investment_dkk: Decimal
    received_to_date_dkk: Decimal
    projected_total_received_dkk: Decimal
    net_result_dkk: Decimal
    irr_annual: Decimal | None
    cash_flows: list[CashFlow]
    # From payments recorded on the investor's invoices (services/settlement/services/economics.py).
    paid_to_date_dkk: Decimal = Decimal("0.00")
    realised_irr_annual: Decimal | None = None


@dataclass(frozen=True)
class ProviderResult:
    share_percent: Decimal
    received_to_date_dkk: Decimal
    projected_total_received_dkk: Decimal


@dataclass(frozen=True)
class MunicipalityResult:
    avoided_public_support_weeks: Decimal
    estimated_savings_dkk: Decimal
    fees_dkk: Decimal
    net_gain_dkk: Decimal
    assumptions: Assumptions
    assumptions_source: str  # "programme" (stored for it) or "default"


@dataclass(frozen=True)
class FeeMonth:
    month: Month
    cumulative_dkk: Decimal
    kind: str  # invoiced (statements) or projected


@dataclass(frozen=True)
class Economics:
    programme_id: str
    data_complete_through: date | None
    computed_at: datetime
    is_projection: bool
    windows_open: int
    fees: Fees
    investor: InvestorResult
    provider: ProviderResult
    municipality: MunicipalityResult
    fee_months: list[FeeMonth]  # cumulative fees, invoiced then projected, for the chart


def project_economics(
    programme_id: str,
    current: TermsVersion,
    cutoff: date | None,
    members: Sequence[CohortMember],
    baseline: Mapping[str, Decimal],
    statements: Sequence[IssuedStatement],
    fees: Sequence[tuple[Decimal, bool]],
    assumptions: Assumptions,
    source: str,
    today: date,
    computed_at: datetime,
) -> Economics:
    """Fees to date and projected (capped), the investor's cash flows and IRR, the provider's share and
    the municipality's savings net of fees. Work that grows with the cohort (every open window's
    months): a route may do it beside the event loop."""
    terms = current.terms
    split = terms.split.investor_percent
    invoiced = statements[-1].cumulative_invoiced if statements else ZERO
    earned = sum((fee for fee, provisional in fees if not provisional), ZERO)
    pending = max(ZERO, min(terms.total_cap_dkk, earned) - invoiced)

    # Future fees: each month of a fee window not yet complete in the data, at the citizen's recent share.
    this_month = Month.of(today)
    next_invoice = max(this_month, Month.parse(statements[-1].period).plus(1)) if statements else this_month
    future: list[tuple[Month, Decimal]] = [(next_invoice, pending)] if pending else []
    for member in members:
        found = window_for(Enrolment(member.track, member.enrolled_on, member.withdrawn_on), [current])
        if found is None:
            continue
        window, _ = found
        fee = terms.fee_for_track(member.track)
        for month in months_of(window):
            if cutoff is not None and month.last_day <= cutoff:
                continue
            in_window = (min(month.last_day, window.end) - max(month.first_day, window.start)).days + 1
            amount = q(fee * member.recent_share * in_window / month.days)
            future.append((max(month.plus(terms.settlement_lag_months), next_invoice), amount))
    projected = cap_schedule(invoiced, future, terms.total_cap_dkk)
    projected_total = sum((a for _, a in projected), ZERO)

    # The investor: the investment out when the first citizen is enrolled, its share of each payment in.
    starts = [member.enrolled_on for member in members]
    start = Month.of(min(starts)) if starts else Month.of(current.effective_from)
    flows = [CashFlow(start, -terms.investment_dkk, "investment")] if terms.investment_dkk else []
    flows += [CashFlow(Month.parse(s.period), s.investor, "payment") for s in statements]
    running = invoiced
    for month, amount in projected:
        before, _ = split_cumulative(running, split)
        running += amount
        after, _ = split_cumulative(running, split)
        flows.append(CashFlow(month, after - before, "projected_payment"))
    total_fees = invoiced + projected_total
    investor_total, provider_total = split_cumulative(total_fees, split)
    investor_to_date, provider_to_date = split_cumulative(invoiced, split)
    citizens = [Citizen(member.track, member.enrolled_on, member.projected_weeks) for member in members]
    avoided_weeks, savings = avoided_support_savings(citizens, baseline, assumptions)
    open_windows = sum(1 for member in members if not member.window_complete)
    rate = irr(flows)
    fee_months: list[FeeMonth] = []
    cumulative = ZERO
    for s in statements:
        cumulative = s.cumulative_invoiced
        fee_months.append(FeeMonth(Month.parse(s.period), cumulative, "invoiced"))
    for month, amount in projected:
        cumulative += amount
        fee_months.append(FeeMonth(month, cumulative, "projected"))
    return Economics(
        programme_id=programme_id,
        data_complete_through=cutoff,
        computed_at=computed_at,
        is_projection=open_windows > 0 or projected_total > 0,
        windows_open=open_windows,
        fees=Fees(
            invoiced_to_date_dkk=invoiced,
            earned_not_yet_invoiced_dkk=q(pending),
            projected_further_dkk=q(projected_total - pending) if projected_total >= pending else ZERO,
            projected_total_dkk=q(total_fees),
            total_cap_dkk=terms.total_cap_dkk,
            statements=len(statements),
        ),
        investor=InvestorResult(
            investment_dkk=terms.investment_dkk,
            received_to_date_dkk=investor_to_date,
            projected_total_received_dkk=investor_total,
            net_result_dkk=investor_total - terms.investment_dkk,
            irr_annual=rate,
            cash_flows=flows,
        ),
        provider=ProviderResult(
            share_percent=terms.split.provider_percent,
            received_to_date_dkk=provider_to_date,
            projected_total_received_dkk=provider_total,
        ),
        municipality=MunicipalityResult(
            avoided_public_support_weeks=q(avoided_weeks),
            estimated_savings_dkk=savings,
            fees_dkk=q(total_fees),
            net_gain_dkk=q(savings - total_fees),
            assumptions=assumptions,
            assumptions_source=source,
        ),
        fee_months=fee_months,
    )
