"""Disputes of issued statements (docs/domain.md "Disputes"). Pure: no framework, no database, no clock
(the caller passes the time).

A dispute covers lines of one issued statement: one line (the provider, who reads the lines), or the
lines of one (month, kind) cell of the investor's view (the investor sees no line). Only citizen lines
(fee, adjustment) can be disputed: the cap line follows from them and the contract's cap. While the
dispute is ``open`` its amount is **held**: owed but not payable. It ends ``upheld`` or ``rejected``
(the jobcenter) or ``withdrawn`` (its opener); an ended dispute never changes again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from services.settlement.domain.statements import split_cumulative


class ReasonCode(StrEnum):
    """Why a line is disputed."""

    status_wrong = "status_wrong"  # the benefit status the fee rests on is wrong or missing
    dates_wrong = "dates_wrong"  # enrolment, withdrawal or window dates put the month in or out wrongly
    amount_wrong = "amount_wrong"  # the amount does not follow from the terms (rule, rate, proration)
    duplicate = "duplicate"  # the same citizen-month is charged twice
    other = "other"  # anything else, explained in the text


class DisputeState(StrEnum):
    open = "open"
    upheld = "upheld"
    rejected = "rejected"
    withdrawn = "withdrawn"


class Outcome(StrEnum):
    """What the jobcenter decides."""

    upheld = "upheld"
    rejected = "rejected"


DISPUTABLE_KINDS = frozenset({"fee", "adjustment"})


class DisputeRefused(Exception):
    """A dispute step the rules refuse; ``field`` names what is wrong, ``status`` the answer's kind
    (``window``/``kind``: bad input, ``state``: a conflict, ``opener``: forbidden)."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field


def window_closes(issued_at: datetime, window_days: int) -> datetime:
    """The last moment a line of a statement issued at ``issued_at`` may be disputed."""
    return issued_at + timedelta(days=window_days)


def check_window(issued_at: datetime, window_days: int, now: datetime) -> None:
    """Refused once ``window_days`` have passed since the statement's issue."""
    closes = window_closes(issued_at, window_days)
    if now > closes:
        raise DisputeRefused(
            "window",
            f"The dispute window of {window_days} days after the statement's issue closed at "
            f"{closes.isoformat()}.",
            field="statement_id",
        )


def check_kind(kind: str, field: str) -> None:
    if kind not in DISPUTABLE_KINDS:
        raise DisputeRefused(
            "kind", "Only fee and adjustment lines can be disputed; the cap follows from them.", field
        )


def held_shares(amount: Decimal, investor_percent: Decimal) -> tuple[Decimal, Decimal]:
    """(investor, provider) of a held amount, split as statements split: the investor's share rounded
    half-up to øre, the provider the rest, so the two add up to the amount."""
    return split_cumulative(amount, investor_percent)


def resolve(state: DisputeState, outcome: Outcome) -> bool:
    """Whether resolving with ``outcome`` changes the dispute: False for a repeat of the same
    resolution (a retry); refused for any other ended dispute."""
    if state is DisputeState.open:
        return True
    if state.value == outcome.value:
        return False
    raise DisputeRefused("state", f"The dispute is {state.value} already.", field="outcome")


def withdraw(state: DisputeState, opened_by: str, subject: str) -> bool:
    """Whether withdrawing changes the dispute: only its opener (the same ``sub``) may; a repeat of a
    withdrawal is a retry (False); an ended dispute is refused."""
    if opened_by != subject:
        raise DisputeRefused("opener", "Only the one who opened the dispute may withdraw it.")
    if state is DisputeState.open:
        return True
    if state is DisputeState.withdrawn:
        return False
    raise DisputeRefused("state", f"The dispute is {state.value} already.")


def age_days(opened_at: datetime, closed_at: datetime | None, now: datetime) -> int:
    """Whole days the dispute has been (or was) open."""
    return max(0, ((closed_at or now) - opened_at).days)
