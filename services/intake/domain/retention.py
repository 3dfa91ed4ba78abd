"""Retention and erasure rules: when a participant's window ends, when their personal data is due for
erasure, who may be ordered erased, and what an erasure order is.

The window is the one fees are counted in (docs/domain.md, "Fee-eligible months"): from enrolment for
``follow_up_months`` under the terms in force on the enrolment date, ended the day before a withdrawal
takes effect. A referral never enrolled has no such window; its window is taken to end the day before
its withdrawal, or, while it is still pending, when the window it could at most have had ends (enrolled
on the referral day), so a forgotten referral is erased too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta

from services.intake.domain.participants import Participant, StateConflict
from services.intake.domain.programmes import TermsVersion

ONE_DAY = timedelta(days=1)


class ErasureReason(StrEnum):
    """Why the jobcenter orders an erasure before the retention period has passed."""

    data_subject_request = "data_subject_request"  # art. 17(1) asked for by the citizen
    unlawful_processing = "unlawful_processing"  # art. 17(1)(d)
    consent_withdrawn = "consent_withdrawn"  # art. 17(1)(b)
    other = "other"


class ErasureBasis(StrEnum):
    order = "order"  # the jobcenter ordered it
    retention = "retention"  # retention_years passed since the end of the window


class ErasureState(StrEnum):
    ordered = "ordered"
    erased = "erased"


@dataclass(frozen=True)
class Erasure:
    """An erasure order, or a done erasure. Nothing in it is personal data of the citizen but the
    participant id, which leads to no one once the erasure is done."""

    erasure_id: str
    participant_id: str
    programme_id: str
    basis: ErasureBasis
    reason_code: ErasureReason | None
    reason: str | None  # the jobcenter's words, until the erasure (they may describe the person)
    ordered_by: str | None  # the token's sub
    ordered_at: datetime | None  # an order is due when it is made
    erased_at: datetime | None

    @property
    def state(self) -> ErasureState:
        return ErasureState.erased if self.erased_at is not None else ErasureState.ordered


def terms_on(versions: Sequence[TermsVersion], day: date) -> TermsVersion:
    """The terms in force on a day: the latest version effective on or before it (the first version
    when the day predates them all)."""
    if not versions:
        raise ValueError("a programme has at least one terms version")
    candidates = [v for v in versions if v.effective_from <= day]
    if not candidates:
        return min(versions, key=lambda v: v.version)
    return max(candidates, key=lambda v: (v.effective_from, v.version))


def window_end(participant: Participant, versions: Sequence[TermsVersion]) -> date:
    """The last day of the participant's window (see the module's docstring for a referral never
    enrolled). It may lie before the window's first day: a withdrawal on the day of enrolment."""
    start = participant.enrolled_on or participant.referred_on
    if participant.enrolled_on is None and participant.withdrawn_on is not None:
        return participant.withdrawn_on - ONE_DAY
    months = terms_on(versions, start).terms.follow_up_months
    end = start + relativedelta(months=months) - ONE_DAY
    if participant.withdrawn_on is not None:
        end = min(end, participant.withdrawn_on - ONE_DAY)
    return end


def erasure_due(participant: Participant, versions: Sequence[TermsVersion]) -> date:
    """The first day on which the participant's personal data is erased without an order: the
    ``retention_years`` of the terms in force at the end of the window, counted from the day after that
    end (a 29 February end counts to 28 February)."""
    end = window_end(participant, versions)
    years = terms_on(versions, end).terms.retention_years
    return end + relativedelta(years=years) + ONE_DAY


def retention_passed(participant: Participant, versions: Sequence[TermsVersion], today: date) -> bool:
    return erasure_due(participant, versions) <= today


def may_be_ordered_erased(participant: Participant, versions: Sequence[TermsVersion], today: date) -> None:
    """A participant may be ordered erased once their window has ended (withdrawn, or past its last
    day), or when they were never enrolled; otherwise a StateConflict says why."""
    if participant.enrolled_on is None or participant.withdrawn_on is not None:
        return
    end = window_end(participant, versions)
    if end >= today:
        raise StateConflict(
            f"The participant is enrolled and their window runs until {end.isoformat()}: withdraw them "
            "first, or order the erasure after the window has ended."
        )
