"""The dispute rules (services/settlement/domain/disputes.py): the window, the held split, the steps."""

from __future__ import annotations

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


@given(state=st.sampled_from(DisputeState), outcome=st.sampled_from(Outcome))
def test_a_resolution_changes_an_open_dispute_repeats_quietly_and_refuses_another_end(
    state: DisputeState, outcome: Outcome
) -> None:
    if state is DisputeState.open:
        assert resolve(state, outcome) is True
    elif state.value == outcome.value:
        assert resolve(state, outcome) is False
    else:
        with pytest.raises(DisputeRefused):
            resolve(state, outcome)


@given(state=st.sampled_from(DisputeState), same=st.booleans())
def test_only_the_opener_withdraws(state: DisputeState, same: bool) -> None:
    if not same:
        with pytest.raises(DisputeRefused) as refused:
            withdraw(state, "coach-1", "coach-2")
        assert refused.value.reason == "opener"
    elif state in (DisputeState.open, DisputeState.withdrawn):
        assert withdraw(state, "coach-1", "coach-1") is (state is DisputeState.open)
    else:
        with pytest.raises(DisputeRefused):
            withdraw(state, "coach-1", "coach-1")


def test_the_age_counts_whole_days_until_now_or_the_end() -> None:
    assert age_days(ISSUED, None, ISSUED + timedelta(days=3, hours=23)) == 3
    assert age_days(ISSUED, ISSUED + timedelta(days=1), ISSUED + timedelta(days=40)) == 1
