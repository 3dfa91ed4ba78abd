"""Progression events: status records, the data cut-off, the provider's measurements and milestones.

One ``status.recorded`` event per record, also for batches: each carries the participant's recording
sequence, so a consumer can tell a gap, and a consumer that receives many at once recomputes each
participant once.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field
from pydantic_core import to_json

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


_CODES = frozenset(code.value for code in StatusCode)
_CATEGORIES = frozenset(category.value for category in StatusCategory)


class StatusRecordedJson:
    """``StatusRecordedV1(...).model_dump_json()`` for the records of one recording (one
    ``recorded_at``), written without a model per record: building and dumping a model per record was a
    large share of a batch's time in the service (figures: docs/performance.md#eighth-session-2026-12-04 and
    #from-the-codes-comments). It checks what the
    model would (the code and category named by the vocabulary, a sequence from 1, an aware time);
    ``tests/unit/test_prepared_events.py`` holds its output equal to the model's, byte for byte."""

    def __init__(self, recorded_at: datetime) -> None:
        if recorded_at.tzinfo is None:
            raise ValueError("recorded_at must carry a time zone")
        self._recorded_at = to_json(recorded_at).decode()
        self._quoted: dict[str, str] = {}  # ids as JSON strings: a batch names each one many times

    def _quote(self, text: str) -> str:
        quoted = self._quoted.get(text)
        if quoted is None:
            quoted = self._quoted[text] = to_json(text).decode()
        return quoted

    def __call__(
        self,
        *,
        record_id: str,
        participant_id: str,
        programme_id: str,
        code: str,
        category: str,
        valid_from: date,
        valid_to: date | None,
        recording_seq: int,
    ) -> str:
        if code not in _CODES:
            raise ValueError(f"code {code!r} is not a status code")
        if category not in _CATEGORIES:
            raise ValueError(f"category {category!r} is not a status category")
        if type(recording_seq) is not int or recording_seq < 1:
            raise ValueError("recording_seq must be an integer from 1")
        if type(valid_from) is not date or (valid_to is not None and type(valid_to) is not date):
            raise TypeError("valid_from and valid_to must be dates")
        to = "null" if valid_to is None else f'"{valid_to.isoformat()}"'
        return (
            f'{{"record_id":{to_json(record_id).decode()},"participant_id":{self._quote(participant_id)},'
            f'"programme_id":{self._quote(programme_id)},"code":"{code}","category":"{category}",'
            f'"valid_from":"{valid_from.isoformat()}","valid_to":{to},"recording_seq":{recording_seq},'
            f'"recorded_at":{self._recorded_at}}}'
        )


@register
class CutoffAdvancedV1(EventPayload):
    event_type = "dk.sib.progression.cutoff.advanced.v1"

    programme_id: ProgrammeId
    complete_through: date
    previous: date | None
    recorded_at: AwareDatetime


@register
class CutoffRetractedV1(EventPayload):
    """A mistaken move of the data cut-off taken back: the cut-off is ``complete_through`` again (earlier
    than ``previous``) from ``recorded_at`` on. Months invoiced under the mistake are adjusted."""

    event_type = "dk.sib.progression.cutoff.retracted.v1"

    programme_id: ProgrammeId
    complete_through: date
    previous: date
    reason: str = Field(max_length=500)
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
