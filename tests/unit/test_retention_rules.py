"""When a participant's retention ends, and who may be ordered erased (services/intake/domain/retention.py):
properties over any dates and terms."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import example, given
from hypothesis import strategies as st

from libs.common.contracts import ProgrammeTerms, WithdrawalReason
from services.intake.domain import (
    Participant,
    ParticipantStatus,
    StateConflict,
    TermsVersion,
    erasure_due,
    may_be_ordered_erased,
    retention_passed,
    terms_on,
    window_end,
)
from services.settlement.domain.months import follow_up_window

SEED_TERMS = json.loads(
    (Path(__file__).resolve().parents[2] / "deploy" / "seed" / "hedensted-2022.json").read_text()
)["terms"]
NOW = datetime(2026, 12, 6, tzinfo=UTC)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


def terms(follow_up_months: int, retention_years: int) -> ProgrammeTerms:
    return ProgrammeTerms.model_validate(
        SEED_TERMS | {"follow_up_months": follow_up_months, "retention_years": retention_years}
    )


def version(
    number: int, effective_from: date, follow_up_months: int = 24, retention_years: int = 5
) -> TermsVersion:
    return TermsVersion(number, effective_from, NOW, terms(follow_up_months, retention_years))


def participant(
    referred_on: date, enrolled_on: date | None = None, withdrawn_on: date | None = None
) -> Participant:
    status = (
        ParticipantStatus.withdrawn
        if withdrawn_on
        else ParticipantStatus.enrolled
        if enrolled_on
        else ParticipantStatus.referred
    )
    return Participant(
        participant_id="p",
        programme_id="x",
        track="sygedagpenge",
        status=status,
        referred_on=referred_on,
        enrolled_on=enrolled_on,
        consent_given_on=enrolled_on,
        withdrawn_on=withdrawn_on,
        withdrawal_reason=WithdrawalReason.other if withdrawn_on else None,
        coach_name=None,
        created_at=NOW,
        updated_at=NOW,
    )


@st.composite
def enrolled(draw: st.DrawFn) -> Participant:
    referred = draw(days)
    enrolled_on = referred + timedelta(days=draw(st.integers(0, 400)))
    withdrawn = draw(st.none() | st.integers(0, 4000).map(lambda n: enrolled_on + timedelta(days=n)))
    return participant(referred, enrolled_on, withdrawn)


@given(enrolled(), st.integers(1, 120), st.integers(1, 30))
def test_an_enrolled_participants_window_ends_where_settlement_counts_its_fees(
    someone: Participant, months: int, years: int
) -> None:
    assert someone.enrolled_on is not None
    versions = [version(1, date(1990, 1, 1), months, years)]
    expected = follow_up_window(someone.enrolled_on, months, someone.withdrawn_on).end
    assert window_end(someone, versions) == expected


@given(enrolled() | days.map(participant), st.integers(1, 120), st.integers(1, 30))
def test_the_data_is_due_for_erasure_the_day_after_retention_years_have_passed_since_the_window_ended(
    someone: Participant, months: int, years: int
) -> None:
    versions = [version(1, date(1990, 1, 1), months, years)]
    due = erasure_due(someone, versions)
    last_kept = window_end(someone, versions) + relativedelta(years=years)
    assert due == last_kept + timedelta(days=1)
    assert retention_passed(someone, versions, due)
    assert not retention_passed(someone, versions, last_kept)


@given(days, st.integers(0, 4000), st.integers(1, 120))
def test_a_referral_never_enrolled_ends_the_day_before_its_withdrawal_or_a_full_window_after_referral(
    referred: date, after: int, months: int
) -> None:
    versions = [version(1, date(1990, 1, 1), months)]
    withdrawn = referred + timedelta(days=after)
    assert window_end(participant(referred, None, withdrawn), versions) == withdrawn - timedelta(days=1)
    pending = participant(referred)
    assert window_end(pending, versions) == referred + relativedelta(months=months) - timedelta(days=1)


@given(st.lists(st.tuples(days, st.integers(1, 30)), min_size=1, max_size=5), enrolled())
def test_retention_counts_the_years_of_the_terms_in_force_when_the_window_ends(
    published: list[tuple[date, int]], someone: Participant
) -> None:
    versions = [version(n + 1, day, 24, years) for n, (day, years) in enumerate(published)]
    end = window_end(someone, versions)
    in_force = terms_on(versions, end)
    assert erasure_due(someone, versions) == end + relativedelta(
        years=in_force.terms.retention_years
    ) + timedelta(days=1)
    earlier = [v for v in versions if v.effective_from <= end]
    if earlier:
        latest = max(v.effective_from for v in earlier)
        assert in_force.effective_from == latest
    else:
        assert in_force.version == 1


@given(enrolled() | days.map(participant), days)
# The window's last day is still in it; the day after is not.
@example(participant(date(2024, 1, 1), date(2024, 1, 1)), date(2025, 12, 31))
@example(participant(date(2024, 1, 1), date(2024, 1, 1)), date(2026, 1, 1))
def test_only_an_enrolled_participant_still_in_their_window_may_not_be_ordered_erased(
    someone: Participant, today: date
) -> None:
    versions = [version(1, date(1990, 1, 1))]
    in_window = (
        someone.enrolled_on is not None
        and someone.withdrawn_on is None
        and window_end(someone, versions) >= today
    )
    if in_window:
        with pytest.raises(StateConflict, match="window runs until"):
            may_be_ordered_erased(someone, versions, today)
    else:
        may_be_ordered_erased(someone, versions, today)
