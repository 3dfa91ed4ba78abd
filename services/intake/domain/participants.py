"""Participant rules: the states a referral moves through, and what enrolment and withdrawal require."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from libs.common.contracts import WithdrawalReason


class ParticipantStatus(StrEnum):
    referred = "referred"
    enrolled = "enrolled"
    withdrawn = "withdrawn"


class RuleViolation(Exception):
    """A request that breaks a rule. ``field`` names the input at fault (422) or is None for a
    conflict with the participant's current state (409)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(RuleViolation):
    pass


class StateConflict(RuleViolation):
    pass


@dataclass(frozen=True)
class Participant:
    participant_id: str
    programme_id: str
    track: str
    status: ParticipantStatus
    referred_on: date
    enrolled_on: date | None
    consent_given_on: date | None
    withdrawn_on: date | None
    withdrawal_reason: WithdrawalReason | None
    coach_name: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def occupies_seat(self) -> bool:
        """Capacity counts citizens who were enrolled. A withdrawal does not free the seat: under
        intention to treat the citizen stays in the cohort the contract is evaluated on."""
        return self.enrolled_on is not None

    def enrol(self, enrolled_on: date, consent_given_on: date, now: datetime) -> Participant | None:
        """The enrolled participant, or None when this exact enrolment already happened (a retry)."""
        if self.status is ParticipantStatus.enrolled:
            if (self.enrolled_on, self.consent_given_on) == (enrolled_on, consent_given_on):
                return None
            raise StateConflict("The participant is already enrolled with other dates.")
        if self.status is ParticipantStatus.withdrawn:
            raise StateConflict("The participant has been withdrawn and cannot be enrolled.")
        if consent_given_on > enrolled_on:
            raise InvalidInput("consent must be given on or before the enrolment date", "consent_given_on")
        if enrolled_on < self.referred_on:
            raise InvalidInput("enrolment cannot be before the referral date", "enrolled_on")
        return replace(
            self,
            status=ParticipantStatus.enrolled,
            enrolled_on=enrolled_on,
            consent_given_on=consent_given_on,
            updated_at=now,
        )

    def withdraw(self, effective_on: date, reason: WithdrawalReason, now: datetime) -> Participant | None:
        """The withdrawn participant, or None when this exact withdrawal already happened (a retry).
        The follow-up window ends the day before ``effective_on``."""
        if self.status is ParticipantStatus.withdrawn:
            if (self.withdrawn_on, self.withdrawal_reason) == (effective_on, reason):
                return None
            raise StateConflict("The participant is already withdrawn with another date or reason.")
        start = self.enrolled_on or self.referred_on
        if effective_on < start:
            field_name = "enrolment" if self.enrolled_on else "referral"
            raise InvalidInput(f"withdrawal cannot take effect before the {field_name} date", "effective_on")
        return replace(
            self,
            status=ParticipantStatus.withdrawn,
            withdrawn_on=effective_on,
            withdrawal_reason=reason,
            updated_at=now,
        )


def seat_available(capacity: int, seats_taken: int) -> bool:
    return seats_taken < capacity
