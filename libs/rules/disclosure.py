"""The small-cell rule, shared by every report a reader who may not see people gets (an investor's
statements, outcomes, corrections and data-quality figures): no figure of 1 or 2 citizens, and none
that the total minus the figures shown would give back."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

MIN_CITIZENS = 3


def suppressed_groups(counts: Mapping[str, int], minimum: int = MIN_CITIZENS) -> set[str]:
    """Which of disjoint groups (each citizen in one group) to suppress when their total is shown:
    every group of 1 to ``minimum`` - 1 citizens, and, while the suppressed groups together hold 1 to
    ``minimum`` - 1 citizens, the smallest group still shown (by count, then name). Empty groups are
    nobody's figure and stay."""
    suppressed = {name for name, count in counts.items() if 0 < count < minimum}
    shown = sorted((count, name) for name, count in counts.items() if count >= minimum)
    while 0 < sum(counts[name] for name in suppressed) < minimum and shown:
        suppressed.add(shown.pop(0)[1])
    return suppressed


def suppressed_overlapping(groups: Mapping[str, AbstractSet[str]], minimum: int = MIN_CITIZENS) -> set[str]:
    """``suppressed_groups`` for groups a citizen may be in more than one of (a programme's jobcenter
    feeds), given as each group's citizens: every group of 1 to ``minimum`` - 1 citizens, and, while
    the suppressed groups together (each citizen once) hold 1 to ``minimum`` - 1 citizens, the
    smallest group still shown (by count, then name). For disjoint groups it suppresses exactly what
    ``suppressed_groups`` does."""
    suppressed = {name for name, members in groups.items() if 0 < len(members) < minimum}
    shown = sorted((len(members), name) for name, members in groups.items() if len(members) >= minimum)

    def hidden_citizens() -> int:
        return len(set().union(*(groups[name] for name in suppressed)))

    while 0 < hidden_citizens() < minimum and shown:
        suppressed.add(shown.pop(0)[1])
    return suppressed
