"""Intake's pure rules (no framework, no database)."""

from services.intake.domain.participants import (
    InvalidInput,
    Participant,
    ParticipantStatus,
    RuleViolation,
    StateConflict,
    seat_available,
)
from services.intake.domain.programmes import Programme, TermsVersion

__all__ = [
    "InvalidInput",
    "Participant",
    "ParticipantStatus",
    "Programme",
    "RuleViolation",
    "StateConflict",
    "TermsVersion",
    "seat_available",
]
