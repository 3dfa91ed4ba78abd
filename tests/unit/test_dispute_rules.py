"""The dispute rules (services/settlement/domain/disputes.py): the window, the held split, the steps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.settlement.domain.disputes import (
    DisputeRefused,
    DisputeState,
    Outcome,
    age_days,
    check_kind,
    check_window,
    held_shares,
    resolve,
    withdraw,
)

ISSUED = datetime(2024, 9, 2, 8, 30, tzinfo=UTC)
amounts = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=2)
percents = st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2)


@given(amount=amounts, percent=percents)
def test_the_held_shares_add_up_to_the_held_amount_in_ore(amount: Decimal, percent: Decimal) -> None:
    investor, provider = held_shares(amount, percent)
    assert investor + provider == amount
    assert investor == investor.quantize(Decimal("0.01")) and provider == provider.quantize(Decimal("0.01"))
    assert abs(investor - amount * percent / 100) <= Decimal("0.005")


def test_the_held_split_rounds_the_investors_share_half_up() -> None:
    assert held_shares(Decimal("0.05"), Decimal("50")) == (Decimal("0.03"), Decimal("0.02"))


@given(days=st.integers(1, 365), after=st.integers(-(10**7), 10**7))
def test_a_dispute_is_open_to_the_window_end_and_refused_after(days: int, after: int) -> None:
    now = ISSUED + timedelta(days=days, seconds=after)
    if after <= 0:
        check_window(ISSUED, days, now)
    else:
        with pytest.raises(DisputeRefused, match=f"{days} days") as refused:
            check_window(ISSUED, days, now)
        assert refused.value.field == "statement_id"


@pytest.mark.parametrize(("kind", "ok"), [("fee", True), ("adjustment", True), ("cap", False)])
def test_only_citizen_lines_can_be_disputed(kind: str, ok: bool) -> None:
    if ok:
        check_kind(kind, "kind")
    else:
        with pytest.raises(DisputeRefused):
            check_kind(kind, "kind")


OP, U, R, W = DisputeState.open, DisputeState.upheld, DisputeState.rejected, DisputeState.withdrawn
CHANGES, REPEAT = "changes", "repeat"  # else the DisputeRefused reason: "state" or "opener"
RESOLVING = {
    (OP, Outcome.upheld): CHANGES, (OP, Outcome.rejected): CHANGES,
    (U, Outcome.upheld): REPEAT, (U, Outcome.rejected): "state",
    (R, Outcome.upheld): "state", (R, Outcome.rejected): REPEAT,
    (W, Outcome.upheld): "state", (W, Outcome.rejected): "state",
}  # fmt: skip
WITHDRAWING = {  # (state, by the opener?)
    (OP, True): CHANGES, (U, True): "state", (R, True): "state", (W, True): REPEAT,
    (OP, False): "opener", (U, False): "opener", (R, False): "opener", (W, False): "opener",
}  # fmt: skip


def outcome_of(action: Callable[[], bool]) -> str:
    try:
        return CHANGES if action() else REPEAT
    except DisputeRefused as refused:
        return refused.reason


def test_the_tables_cover_every_state() -> None:
    assert set(RESOLVING) == {(s, o) for s in DisputeState for o in Outcome}
    assert set(WITHDRAWING) == {(s, same) for s in DisputeState for same in (True, False)}


@pytest.mark.parametrize(("state", "outcome"), list(RESOLVING))
def test_a_resolution_changes_an_open_dispute_repeats_quietly_and_refuses_another_end(
    state: DisputeState, outcome: Outcome
) -> None:
    assert outcome_of(lambda: resolve(state, outcome)) == RESOLVING[state, outcome]


@pytest.mark.parametrize(("state", "same"), list(WITHDRAWING))
def test_only_the_opener_withdraws(state: DisputeState, same: bool) -> None:
    by = "coach-1" if same else "coach-2"
    assert outcome_of(lambda: withdraw(state, "coach-1", by)) == WITHDRAWING[state, same]


def test_the_age_counts_whole_days_until_now_or_the_end() -> None:
    assert age_days(ISSUED, None, ISSUED + timedelta(days=3, hours=23)) == 3
    assert age_days(ISSUED, ISSUED + timedelta(days=1), ISSUED + timedelta(days=40)) == 1
