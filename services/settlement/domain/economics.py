"""The economics of the deal (DOMAIN.md "Useful public figures"): what the municipality saves on
public support the cohort avoids, net of the state refund staircase; the investor's cash flows and
IRR; fees to date and projected. Pure: no framework, no database.

Savings model (documented, and every number in it is configurable per programme):
- A citizen's weeks on public support in the 104-week window are 104 minus their self-supporting
  weeks; the control group's are 104 minus the baseline of the citizen's track. The avoided weeks are
  the difference (negative when the citizen does worse than the baseline).
- The weeks on support are taken to be the first ones of the window (a citizen on benefit from
  enrolment until they leave it), so the avoided weeks are the last of the control group's run.
- Each week costs the benefit rate of its calendar year for the track (per week; the nearest known
  year when that year has no rate) times the municipality's share after the state refund, which
  depends on the citizen's cumulative weeks on support (``prior_weeks_on_support`` of the track before
  enrolment, plus the weeks in the window): weeks 1-4 80 %, 5-26 40 %, 27-52 30 %, 53+ 20 % refund.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.settlement.domain.calculation import Enrolment, window_for
from services.settlement.domain.months import Month, months_of
from services.settlement.domain.outcomes import WINDOW_WEEKS, q
from services.settlement.domain.statements import split_cumulative
from services.settlement.domain.terms import TermsVersion

ZERO = Decimal("0")

# Maximum sygedagpenge per week (DOMAIN.md); ressourceforløbsydelse (provider rate) 16,382 DKK a month
# in 2024 as the rate of the job-clarification track, per week = 16,382 x 12 / 52.
DEFAULT_WEEKLY_RATES: dict[str, dict[int, Decimal]] = {
    "sygedagpenge": {
        2021: Decimal("4460"),
        2022: Decimal("4465"),
        2023: Decimal("4550"),
        2024: Decimal("4695"),
    },
    "jobafklaring": {2024: q(Decimal("16382") * 12 / 52)},
}
DEFAULT_STAIRCASE: tuple[tuple[int, Decimal], ...] = (
    (1, Decimal("0.80")),
    (5, Decimal("0.40")),
    (27, Decimal("0.30")),
    (53, Decimal("0.20")),
)


@dataclass(frozen=True)
class Assumptions:
    weekly_rates: Mapping[str, Mapping[int, Decimal]] = field(default_factory=lambda: DEFAULT_WEEKLY_RATES)
    # (first cumulative week, state refund share from that week on), ascending.
    refund_staircase: tuple[tuple[int, Decimal], ...] = DEFAULT_STAIRCASE
    prior_weeks_on_support: Mapping[str, int] = field(default_factory=dict)

    def rate(self, track: str, year: int) -> Decimal:
        rates = self.weekly_rates.get(track) or next(iter(self.weekly_rates.values()), {})
        if not rates:
            return ZERO
        if year in rates:
            return Decimal(rates[year])
        earlier = [y for y in rates if y < year]
        return Decimal(rates[max(earlier)] if earlier else rates[min(rates)])

    def refund(self, cumulative_week: int) -> Decimal:
        share = ZERO
        for first_week, refund in self.refund_staircase:
            if cumulative_week >= first_week:
                share = Decimal(refund)
        return share


def support_cost(track: str, enrolled_on: date, weeks: Decimal, assumptions: Assumptions) -> Decimal:
    """The municipality's net cost of ``weeks`` weeks on support from the enrolment date."""
    prior = assumptions.prior_weeks_on_support.get(track, 0)
    total = ZERO
    whole = int(weeks)
    for week in range(1, math.ceil(weeks) + 1):
        fraction = Decimal(1) if week <= whole else weeks - whole
        year = (enrolled_on + timedelta(days=7 * (week - 1))).year
        share = 1 - assumptions.refund(prior + week)
        total += fraction * assumptions.rate(track, year) * share
    return total


@dataclass(frozen=True)
class Citizen:
    track: str
    enrolled_on: date
    self_supporting_weeks: Decimal  # observed, or projected for an open window


def avoided_support_savings(
    citizens: Sequence[Citizen], baseline: Mapping[str, Decimal], assumptions: Assumptions
) -> tuple[Decimal, Decimal]:
    """(avoided weeks, the municipality's net savings) of the cohort against the baseline."""
    weeks, savings = ZERO, ZERO
    for c in citizens:
        control = Decimal(WINDOW_WEEKS) - baseline.get(c.track, ZERO)
        actual = Decimal(WINDOW_WEEKS) - min(Decimal(WINDOW_WEEKS), c.self_supporting_weeks)
        weeks += control - actual
        savings += support_cost(c.track, c.enrolled_on, control, assumptions) - support_cost(
            c.track, c.enrolled_on, actual, assumptions
        )
    return weeks, q(savings)


@dataclass(frozen=True)
class CashFlow:
    month: Month
    amount: Decimal  # negative out, positive in
    kind: str  # investment, payment, projected_payment


def npv(flows: Sequence[CashFlow], monthly_rate: Decimal, start: Month) -> Decimal:
    total = ZERO
    for flow in flows:
        t = (flow.month.year - start.year) * 12 + flow.month.month - start.month
        total += flow.amount / (1 + monthly_rate) ** t
    return total


def irr(flows: Sequence[CashFlow]) -> Decimal | None:
    """The annual internal rate of return of monthly cash flows (bisection on the monthly rate);
    None when the flows do not change sign (no rate makes their value zero)."""
    if not flows or all(f.amount >= 0 for f in flows) or all(f.amount <= 0 for f in flows):
        return None
    start = min(f.month for f in flows)
    low, high = Decimal("-0.99"), Decimal("1.0")
    f_low, f_high = npv(flows, low, start), npv(flows, high, start)
    if f_low * f_high > 0:
        return None
    for _ in range(200):
        middle = (low + high) / 2
        f_middle = npv(flows, middle, start)
        if f_middle == 0 or high - low < Decimal("1e-12"):
            break
        if (f_middle > 0) == (f_low > 0):
            low, f_low = middle, f_middle
        else:
            high = middle
    monthly = (low + high) / 2
    return ((1 + monthly) ** 12 - 1).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


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


# --- the assumptions as a programme stores them ---------------------------------------------------


def assumptions_from(data: dict[str, Any] | None) -> Assumptions:
    if not data:
        return Assumptions()
    return Assumptions(
        weekly_rates={
            track: {int(year): Decimal(rate) for year, rate in rates.items()}
            for track, rates in data["weekly_rates"].items()
        },
        refund_staircase=tuple(
            (int(step["from_week"]), Decimal(step["refund_percent"]) / 100)
            for step in data["refund_staircase"]
        ),
        prior_weeks_on_support={k: int(v) for k, v in data.get("prior_weeks_on_support", {}).items()},
    )


def assumptions_document(assumptions: Assumptions, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "weekly_rates": {
            track: {str(year): str(rate) for year, rate in sorted(rates.items())}
            for track, rates in assumptions.weekly_rates.items()
        },
        "refund_staircase": [
            {"from_week": week, "refund_percent": str((share * 100).quantize(Decimal("0.01")))}
            for week, share in assumptions.refund_staircase
        ],
        "prior_weeks_on_support": dict(assumptions.prior_weeks_on_support),
    }


# --- the programme's economics, projected -------------------------------------------------------


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
class Economics:
    report: dict[str, Any]
    investor_flows: list[CashFlow]
    fee_months: list[tuple[Month, Decimal, str]]  # month, cumulative amount, kind (invoiced/projected)
    total_cap: Decimal


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
    report: dict[str, Any] = {
        "programme_id": programme_id,
        "data_complete_through": cutoff,
        "computed_at": computed_at,
        "is_projection": open_windows > 0 or projected_total > 0,
        "windows_open": open_windows,
        "fees": {
            "invoiced_to_date_dkk": invoiced,
            "earned_not_yet_invoiced_dkk": q(pending),
            "projected_further_dkk": q(projected_total - pending) if projected_total >= pending else ZERO,
            "projected_total_dkk": q(total_fees),
            "total_cap_dkk": terms.total_cap_dkk,
            "statements": len(statements),
        },
        "investor": {
            "investment_dkk": terms.investment_dkk,
            "received_to_date_dkk": investor_to_date,
            "projected_total_received_dkk": investor_total,
            "net_result_dkk": investor_total - terms.investment_dkk,
            "irr_annual": rate,
            "cash_flows": [{"month": str(f.month), "amount_dkk": f.amount, "kind": f.kind} for f in flows],
        },
        "provider": {
            "share_percent": terms.split.provider_percent,
            "received_to_date_dkk": provider_to_date,
            "projected_total_received_dkk": provider_total,
        },
        "municipality": {
            "avoided_public_support_weeks": q(avoided_weeks),
            "estimated_savings_dkk": savings,
            "fees_dkk": q(total_fees),
            "net_gain_dkk": q(savings - total_fees),
            "assumptions": assumptions_document(assumptions, source),
        },
        "method": (
            "Savings: for each citizen, the weeks on public support the control group would have had "
            "(104 minus the track's baseline) minus their own (104 minus their self-supporting weeks, "
            "projected for open windows), valued at the benefit rate of each week's year and the "
            "municipality's share after the state refund staircase by cumulative weeks on support. Fees: "
            "invoiced to date, plus what is earned but not invoiced, plus each open window's remaining "
            "months at the citizen's recent self-supporting share, capped. Investor: the investment out "
            "in the month of the first enrolment, its share of each statement in the statement's month."
        ),
    }
    fee_months: list[tuple[Month, Decimal, str]] = []
    cumulative = ZERO
    for s in statements:
        cumulative = s.cumulative_invoiced
        fee_months.append((Month.parse(s.period), cumulative, "invoiced"))
    for month, amount in projected:
        cumulative += amount
        fee_months.append((month, cumulative, "projected"))
    return Economics(report, flows, fee_months, terms.total_cap_dkk)
