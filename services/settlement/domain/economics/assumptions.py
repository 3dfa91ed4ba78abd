"""The assumptions the savings are valued under (benefit rates per track and year, the state refund
staircase, prior weeks on support), their defaults, and how a programme stores them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.settlement.domain.outcomes import q

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
