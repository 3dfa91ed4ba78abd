"""Participant events from intake. The v2 events carry the participant's UUID and nothing derived from
the CPR number. The v1 events also carried the keyed CPR pseudonym (HMAC); intake no longer publishes
them, and they stay here because the stream still holds them."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from libs.common.contracts.programme import ProgrammeId, TrackName
from libs.common.events import EventPayload, register
from libs.common.ids import Uuid

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
    """The v1 fields, with the pseudonym."""

    participant_id: str = Field(description="UUID of the participant")
    programme_id: ProgrammeId
    track: TrackName
    cpr_pseudonym: CprPseudonym
    referred_on: date


@register
class ParticipantReferredV1(_ParticipantEvent):
    """Superseded by participant.referred.v2 (without the pseudonym); still read, since the stream
    holds it."""

    event_type = "dk.sib.intake.participant.referred.v1"


@register
class ParticipantEnrolledV1(_ParticipantEvent):
    """Superseded by participant.enrolled.v2 (without the pseudonym); still read, since the stream
    holds it."""

    event_type = "dk.sib.intake.participant.enrolled.v1"

    enrolled_on: date
    consent_given_on: date


@register
class ParticipantWithdrawnV1(_ParticipantEvent):
    """The window ends the day before ``effective_on``; a withdrawn citizen stays in the cohort.
    Superseded by participant.withdrawn.v2 (without the pseudonym); still read, since the stream holds
    it."""

    event_type = "dk.sib.intake.participant.withdrawn.v1"

    enrolled_on: date | None
    effective_on: date
    reason: WithdrawalReason


class _ParticipantEventV2(EventPayload):
    participant_id: str = Field(description="UUID of the participant")
    programme_id: ProgrammeId
    track: TrackName
    referred_on: date


@register
class ParticipantReferredV2(_ParticipantEventV2):
    event_type = "dk.sib.intake.participant.referred.v2"


@register
class ParticipantEnrolledV2(_ParticipantEventV2):
    event_type = "dk.sib.intake.participant.enrolled.v2"

    enrolled_on: date
    consent_given_on: date


@register
class ParticipantWithdrawnV2(_ParticipantEventV2):
    """The window ends the day before ``effective_on``; a withdrawn citizen stays in the cohort."""

    event_type = "dk.sib.intake.participant.withdrawn.v2"

    enrolled_on: date | None
    effective_on: date
    reason: WithdrawalReason


# What a consumer of intake's participant events takes: every version the stream may hold.
ParticipantReferred = ParticipantReferredV1 | ParticipantReferredV2
ParticipantEnrolled = ParticipantEnrolledV1 | ParticipantEnrolledV2
ParticipantWithdrawn = ParticipantWithdrawnV1 | ParticipantWithdrawnV2
ParticipantEvent = ParticipantReferred | ParticipantEnrolled | ParticipantWithdrawn
PARTICIPANT_EVENT_TYPES = (
    ParticipantReferredV1.event_type,
    ParticipantEnrolledV1.event_type,
    ParticipantWithdrawnV1.event_type,
    ParticipantReferredV2.event_type,
    ParticipantEnrolledV2.event_type,
    ParticipantWithdrawnV2.event_type,
)


@register
class ParticipantErasedV1(EventPayload):
    """A citizen's personal data was erased in intake (retention passed, or the jobcenter ordered it).
    It carries the participant id and nothing else: progression and settlement erase their rows of that
    participant, and the stream eraser removes the participant's events from the stream and the dead
    letters, except the accounting records (statement lines) that must be kept."""

    event_type = "dk.sib.intake.participant.erased.v1"

    # A UUID, checked: its readers delete what names it, and a blank or partial id would name everything.
    participant_id: Uuid = Field(description="UUID of the participant whose personal data was erased")
