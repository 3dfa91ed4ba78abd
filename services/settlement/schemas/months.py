"""A participant's months, the explanation of a month's fee, and the dry run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from libs.common.contracts import StatusCode
from libs.common.dates import WorldDate, iso_week_in_world
from libs.common.ids import Uuid


class MonthOut(BaseModel):
    month: str
    in_window_days: int
    self_supporting_days: int
    public_support_days: int
    unknown_days: int
    provisional: bool = Field(description="Some in-window day is unknown: shown, never invoiced")
    fee_dkk: Decimal
    invoiced_dkk: Decimal = Field(description="What issued statements have invoiced for this month so far")


class MonthList(BaseModel):
    participant_id: str
    programme_id: str
    items: list[MonthOut]


class DecidingPeriod(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    category: str
    code: str | None
    record_id: str | None
    recording_seq: int | None
    recorded_at: AwareDatetime | None


class ExplanationOut(BaseModel):
    participant_id: str
    month: str
    window_start: date
    window_end: date
    cutoff_used: date | None
    terms_version: int = Field(description="The terms version the month is computed under")
    window_terms_version: int = Field(
        description="The terms version in force at enrolment, which set the window"
    )
    rule: str
    fee_per_month_dkk: Decimal
    days_in_month: int
    in_window_days: int
    self_supporting_days: int
    public_support_days: int
    unknown_days: int
    provisional: bool
    fee_dkk: Decimal
    calculation: str = Field(description="The rule applied, with the numbers")
    periods: list[DecidingPeriod] = Field(
        description="Which record decided which days (null record: no record)"
    )


class DryRunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: Uuid
    code: StatusCode
    valid_from: WorldDate | None = None
    valid_to: WorldDate | None = Field(default=None, validate_default=True)
    iso_week: str | None = Field(default=None, pattern=r"^\d{4}-W\d{2}$", validate_default=True)

    @field_validator("valid_to")
    @classmethod
    def _not_before_valid_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value < start:
            raise ValueError("valid_to is before valid_from")
        return value

    @field_validator("iso_week")
    @classmethod
    def _one_period(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (value is None) == (info.data.get("valid_from") is None):
            raise ValueError("give valid_from (and valid_to) or iso_week")
        if value is not None:
            iso_week_in_world(value)
        return value


class DryRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[DryRunRecord] = Field(min_length=1, max_length=10_000)


class DryRunChange(BaseModel):
    participant_id: str
    month: str
    current_fee_dkk: Decimal | None
    new_fee_dkk: Decimal
    current_provisional: bool | None
    new_provisional: bool


class DryRunOut(BaseModel):
    changes: list[DryRunChange]
    total_change_dkk: Decimal = Field(
        description="Sum of new minus current fees of months that are not provisional"
    )
