"""The provider's progression tool: group averages and the change since the first measurement."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from libs.common.contracts import INDICATOR_GROUPS


def group_averages(scores: dict[str, int]) -> dict[str, float]:
    """Mean of each group's four indicators, to two decimals."""
    return {
        group: float(
            (Decimal(sum(scores[i] for i in indicators)) / len(indicators)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
        )
        for group, indicators in INDICATOR_GROUPS.items()
    }


def change_since_first(series: list[dict[str, int]]) -> dict[str, float]:
    """Latest minus first group average; zeros with fewer than two measurements."""
    if len(series) < 2:
        return dict.fromkeys(INDICATOR_GROUPS, 0.0)
    first, latest = group_averages(series[0]), group_averages(series[-1])
    return {group: round(latest[group] - first[group], 2) for group in INDICATOR_GROUPS}
