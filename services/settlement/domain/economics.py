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
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from services.settlement.domain.months import Month
from services.settlement.domain.outcomes import WINDOW_WEEKS, q

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
