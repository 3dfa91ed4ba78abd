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
from services.intake.domain.retention import (
    Erasure,
    ErasureBasis,
    ErasureReason,
    ErasureState,
    erasure_due,
    may_be_ordered_erased,
    retention_passed,
    terms_on,
    window_end,
)

__all__ = [
    "Erasure",
    "ErasureBasis",
    "ErasureReason",
    "ErasureState",
    "InvalidInput",
    "Participant",
    "ParticipantStatus",
    "PartiesVersion",
    "Programme",
    "RuleViolation",
    "StateConflict",
    "TermsVersion",
    "erasure_due",
    "may_be_ordered_erased",
    "next_parties_version",
    "retention_passed",
    "seat_available",
    "terms_on",
    "window_end",
]
