"""What the municipality saves on the public support the cohort avoids, net of the state refund
staircase (the model: the package's docstring)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from services.settlement.domain.economics.assumptions import Assumptions
from services.settlement.domain.outcomes import WINDOW_WEEKS, q

ZERO = Decimal("0")


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
