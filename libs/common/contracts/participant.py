"""Participant events from intake. They carry the participant's UUID and the keyed CPR pseudonym
(HMAC), never the CPR number itself."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from libs.common.contracts.programme import ProgrammeId, TrackName
from libs.common.events import EventPayload, register

CprPseudonym = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of the CPR number under intake's key (hex)."),
]


class WithdrawalReason(StrEnum):
    consent_withdrawn = "consent_withdrawn"
    moved_away = "moved_away"
    deceased = "deceased"
    other = "other"


class _ParticipantEvent(EventPayload):
    participant_id: str = Field(description="UUID of the participant")
    programme_id: ProgrammeId
    track: TrackName
    cpr_pseudonym: CprPseudonym
    referred_on: date


@register
class ParticipantReferredV1(_ParticipantEvent):
    event_type = "dk.sib.intake.participant.referred.v1"


@register
class ParticipantEnrolledV1(_ParticipantEvent):
    event_type = "dk.sib.intake.participant.enrolled.v1"

    enrolled_on: date
    consent_given_on: date


@register
class ParticipantWithdrawnV1(_ParticipantEvent):
    """The window ends the day before ``effective_on``; a withdrawn citizen stays in the cohort."""

    event_type = "dk.sib.intake.participant.withdrawn.v1"

    enrolled_on: date | None
    effective_on: date
    reason: WithdrawalReason
