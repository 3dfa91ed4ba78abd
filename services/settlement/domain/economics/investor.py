"""The investor's monthly cash flows, their net present value and the internal rate of return."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services.settlement.domain.months import Month

ZERO = Decimal("0")


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


def realised_irr(investment: CashFlow | None, payments: Sequence[tuple[date, Decimal]]) -> Decimal | None:
    """The annual IRR of what the investor actually received: its investment out (as the projection
    models it) and each payment on its invoices in the month it was paid; None before any payment."""
    if not payments:
        return None
    flows = [investment] if investment is not None else []
    flows += [CashFlow(Month.of(paid_on), amount, "payment_received") for paid_on, amount in payments]
    return irr(flows)
