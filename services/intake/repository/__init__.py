"""Intake's queries: add and flush, never commit. One module per thing asked about: programmes (their
terms and parties), participants (and the referrals' idempotency keys), the CPR audit, erasures."""

from services.intake.repository.audit import AuditRepository
from services.intake.repository.erasures import ErasureRepository, to_erasure
from services.intake.repository.participants import (
    IdempotencyRepository,
    ParticipantRepository,
    apply_participant,
    to_participant,
)
from services.intake.repository.programmes import PartiesRepository, ProgrammeRepository

__all__ = [
    "AuditRepository",
    "ErasureRepository",
    "IdempotencyRepository",
    "ParticipantRepository",
    "PartiesRepository",
    "ProgrammeRepository",
    "apply_participant",
    "to_erasure",
    "to_participant",
]
