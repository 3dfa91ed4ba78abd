"""Progression events: status records, the data cut-off, the provider's measurements and milestones.

One ``status.recorded`` event per record, also for batches: each carries the participant's recording
sequence, so a consumer can tell a gap, and a consumer that receives many at once recomputes each
participant once.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field

from libs.common.contracts.programme import ProgrammeId
from libs.common.contracts.vocabulary import StatusCategory, StatusCode
from libs.common.events import EventPayload, register

# The provider's progression tool (seed 003): three groups of four indicators, each scored 1-10.
INDICATOR_GROUPS: dict[str, tuple[str, ...]] = {
    "development": ("attendance_stability", "personal_resources", "coping", "motivation"),
    "empowerment": ("takes_responsibility", "active_participation", "open_to_change", "goal_focus"),
    "future": ("self_insight", "sees_new_opportunities", "labour_market_focus", "realistic_about_future"),
}
INDICATORS: tuple[str, ...] = tuple(i for group in INDICATOR_GROUPS.values() for i in group)


class MilestoneKind(StrEnum):
    visitation = "visitation"
    plan_agreed = "plan_agreed"
    workplace_meeting = "workplace_meeting"
    internship_start = "internship_start"
    internship_end = "internship_end"
    job_start = "job_start"
    education_start = "education_start"
    fit_for_work = "fit_for_work"
    other = "other"


ParticipantId = Annotated[str, Field(description="UUID of the participant")]


@register
class StatusRecordedV1(EventPayload):
    event_type = "dk.sib.progression.status.recorded.v1"

    record_id: str
    participant_id: ParticipantId
    programme_id: ProgrammeId
    code: StatusCode
    category: StatusCategory = Field(description="Under the programme's terms when recorded")
    valid_from: date
    valid_to: date | None = Field(description="Inclusive; null when open-ended")
    recording_seq: int = Field(ge=1, description="1, 2, 3, ... per participant, in recording order")
    recorded_at: AwareDatetime


@register
class CutoffAdvancedV1(EventPayload):
    event_type = "dk.sib.progression.cutoff.advanced.v1"

    programme_id: ProgrammeId
    complete_through: date
    previous: date | None
    recorded_at: AwareDatetime


@register
class MeasurementRecordedV1(EventPayload):
    event_type = "dk.sib.progression.measurement.recorded.v1"

    measurement_id: str
    participant_id: ParticipantId
    programme_id: ProgrammeId
    measured_on: date
    scores: dict[str, Annotated[int, Field(ge=1, le=10)]]
    recorded_at: AwareDatetime


@register
class MilestoneRecordedV1(EventPayload):
    """The provider's free-text note stays in progression: it never travels in an event."""

    event_type = "dk.sib.progression.milestone.recorded.v1"

    milestone_id: str
    participant_id: ParticipantId
    programme_id: ProgrammeId
    kind: MilestoneKind
    on: date
    recorded_at: AwareDatetime
