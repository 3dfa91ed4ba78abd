"""Progression's request and response models."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from libs.common.contracts import INDICATORS, MilestoneKind, ProgrammeId, StatusCategory, StatusCode
from libs.common.dates import WorldDate, iso_week_in_world, not_after_today
from libs.common.ids import NoCpr, Uuid


class ProgrammeOut(BaseModel):
    programme_id: str
    name: str
    terms_version: int
    status_categories: dict[StatusCode, StatusCategory]
    data_complete_through: date | None


class StatusRecordIn(BaseModel):
    """One status period. Name the citizen by ``participant_id`` or by ``cpr`` (intake says who the CPR
    is; it is never stored here); give ``valid_from``/``valid_to`` or an ``iso_week``."""

    model_config = ConfigDict(extra="forbid")

    participant_id: Uuid | None = None
    cpr: str | None = Field(default=None, max_length=20, validate_default=True, repr=False)
    programme_id: ProgrammeId | None = Field(
        default=None, description="Only needed when a CPR is a participant of several programmes."
    )
    code: StatusCode
    valid_from: WorldDate | None = None
    valid_to: WorldDate | None = Field(
        default=None, validate_default=True, description="Inclusive; absent = open-ended"
    )
    iso_week: str | None = Field(
        default=None,
        pattern=r"^\d{4}-W\d{2}$",
        validate_default=True,
        description="e.g. 2024-W07, Monday-Sunday",
    )
    source_record_id: NoCpr | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The jobcenter system's own id; makes a retry safe.",
    )

    @field_validator("cpr")
    @classmethod
    def _one_way_to_name_the_citizen(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (value is None) == (info.data.get("participant_id") is None):
            raise ValueError("give exactly one of participant_id and cpr")
        return value

    @field_validator("valid_to")
    @classmethod
    def _not_before_valid_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value < start:
            raise ValueError("valid_to is before valid_from")
        return value

    @field_validator("iso_week")
    @classmethod
    def _one_way_to_give_the_period(cls, value: str | None, info: ValidationInfo) -> str | None:
        dated = info.data.get("valid_from") is not None or info.data.get("valid_to") is not None
        if value is None and not dated:
            raise ValueError("give valid_from (and valid_to) or iso_week")
        if value is not None and dated:
            raise ValueError("give either valid_from/valid_to or iso_week, not both")
        if value is not None:
            iso_week_in_world(value)
        if value is None and info.data.get("valid_from") is None:
            raise ValueError("valid_from is required with valid_to")
        return value


class StatusBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[StatusRecordIn] = Field(min_length=1, max_length=10_000)


class StatusRecordOut(BaseModel):
    record_id: str
    participant_id: str
    programme_id: str
    code: StatusCode
    valid_from: date
    valid_to: date | None
    recording_seq: int
    recorded_at: AwareDatetime
    source_record_id: str | None


class StatusBatchOut(BaseModel):
    created: int = Field(description="Records stored by this request (repeats of known source ids excluded)")
    records: list[StatusRecordOut]


class StatusRecordList(BaseModel):
    items: list[StatusRecordOut]


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date | None = Field(description="Inclusive; null when open-ended")
    code: StatusCode | None
    category: str = Field(description="public_support, self_supporting or unknown")
    record_id: str | None = Field(description="The deciding record; null for days no record covers")


class TimelineOut(BaseModel):
    participant_id: str
    programme_id: str
    as_of: AwareDatetime | None
    data_complete_through: date | None
    periods: list[PeriodOut]


class CutoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    complete_through: WorldDate = Field(
        description="All benefit periods up to and including this date are reported; never later than "
        "today (Danish time)."
    )

    @field_validator("complete_through")
    @classmethod
    def _not_ahead(cls, value: date) -> date:
        return not_after_today(value)


class CutoffRetractionIn(BaseModel):
    """Take a mistaken move of the cut-off back to an earlier date, with the reason."""

    model_config = ConfigDict(extra="forbid")

    complete_through: WorldDate = Field(
        description="The cut-off that is right: earlier than the current one."
    )
    reason: NoCpr = Field(
        min_length=3,
        max_length=500,
        description="Why the move was a mistake; kept in the history and in the event (no CPR numbers).",
    )

    @field_validator("complete_through")
    @classmethod
    def _not_ahead(cls, value: date) -> date:
        return not_after_today(value)


class CutoffOut(BaseModel):
    programme_id: str
    complete_through: date
    previous: date | None
    recorded_at: AwareDatetime
    kind: Literal["advanced", "retracted"] = Field(description="An advance, or a retraction of a mistake")
    reason: str | None = Field(description="A retraction's reason")
    seq: int = Field(description="The move's place in the programme's cut-off history")


class CutoffHistoryOut(BaseModel):
    programme_id: str
    items: list[CutoffOut] = Field(description="Every move of the cut-off, oldest first")


class StatusCodeOut(BaseModel):
    code: StatusCode
    danish_name: str
    default_category: StatusCategory


class StatusCodeList(BaseModel):
    items: list[StatusCodeOut]


Score = Annotated[int, Field(ge=1, le=10)]


class MeasurementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measured_on: WorldDate
    scores: dict[str, Score] = Field(description=f"All 12 indicators, each 1-10: {', '.join(INDICATORS)}")

    @field_validator("scores")
    @classmethod
    def _all_twelve_indicators(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(INDICATORS))
        missing = [i for i in INDICATORS if i not in value]
        if unknown:
            raise ValueError(f"unknown indicator(s): {', '.join(unknown)}")
        if missing:
            raise ValueError(f"missing indicator(s): {', '.join(missing)}")
        return value


class MeasurementOut(BaseModel):
    measurement_id: str
    measured_on: date
    scores: dict[str, int]
    group_averages: dict[str, float]
    recorded_at: AwareDatetime


class MeasurementList(BaseModel):
    items: list[MeasurementOut]
    change_since_first: dict[str, float] = Field(description="Latest minus first group average, per group")


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: MilestoneKind
    on: WorldDate
    note: str | None = Field(default=None, max_length=2000)


class MilestoneOut(BaseModel):
    milestone_id: str
    kind: MilestoneKind
    on: date
    note: str | None
    recorded_at: AwareDatetime


class MilestoneList(BaseModel):
    items: list[MilestoneOut]
