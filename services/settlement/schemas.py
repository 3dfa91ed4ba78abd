"""Settlement's request and response models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from libs.common.contracts import ProgrammeTerms, StatusCode


class TermsVersionOut(BaseModel):
    version: int
    effective_from: date
    terms: ProgrammeTerms


class ProgrammeTermsOut(BaseModel):
    programme_id: str
    name: str
    in_force: TermsVersionOut | None
    versions: list[TermsVersionOut]


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


class StatementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")


class LineOut(BaseModel):
    line_no: int
    kind: str
    participant_id: str | None
    month: str | None
    amount_dkk: Decimal
    corrects_statement_id: str | None
    corrects_line_no: int | None


class StatementOut(BaseModel):
    statement_id: str
    programme_id: str
    period: str
    covers_through: str
    issued_at: AwareDatetime
    terms_version: int
    lines: list[LineOut]
    totals: dict[str, Decimal]
    sha256: str


class StatementList(BaseModel):
    items: list[StatementOut]


class SummaryOut(BaseModel):
    programme_id: str
    earned_dkk: Decimal = Field(description="Current fees of every month that is no longer provisional")
    invoiced_dkk: Decimal = Field(description="Cumulative amount of the issued statements (after the cap)")
    provisional_dkk: Decimal = Field(description="What provisional months have earned so far")
    total_cap_dkk: Decimal
    cap_remaining_dkk: Decimal
    investor_cumulative_dkk: Decimal
    provider_cumulative_dkk: Decimal
    statements: int


class DryRunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: str
    code: StatusCode
    valid_from: date | None = None
    valid_to: date | None = Field(default=None, validate_default=True)
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
            year, week = value.split("-W")
            try:
                date.fromisocalendar(int(year), int(week), 1)
            except ValueError:
                raise ValueError("not an ISO week of that year") from None
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
