"""Participant use cases: referral, enrolment within track capacity, withdrawal, coach, reads, lookup.

The CPR number is parsed at the edge, stored only encrypted, found by its keyed pseudonym, and
decrypted only for the jobcenter, with an audit row for every read or write.
"""

from services.intake.services.participants.changes import change_coach, enrol, refer, withdraw
from services.intake.services.participants.common import Page, ParticipantView, parse_cpr_field
from services.intake.services.participants.lookup import LookupAnswer, lookup, lookup_batch, read_batch
from services.intake.services.participants.reads import get_participant, list_participants

__all__ = [
    "LookupAnswer",
    "Page",
    "ParticipantView",
    "change_coach",
    "enrol",
    "get_participant",
    "list_participants",
    "lookup",
    "lookup_batch",
    "parse_cpr_field",
    "read_batch",
    "refer",
    "withdraw",
]
