"""Intake's pure rules (no framework, no database)."""

from services.intake.domain.participants import (
    InvalidInput,
    Participant,
    ParticipantStatus,
    RuleViolation,
    StateConflict,
    seat_available,
)
from services.intake.domain.programmes import (
    PartiesVersion,
    Programme,
    TermsVersion,
    next_parties_version,
)

__all__ = [
    "InvalidInput",
    "Participant",
    "ParticipantStatus",
    "PartiesVersion",
    "Programme",
    "RuleViolation",
    "StateConflict",
    "TermsVersion",
    "next_parties_version",
    "seat_available",
]
