"""Settlement's request and response models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from libs.common.contracts import ProgrammeTerms, StatusCode
from libs.common.dates import WorldDate, iso_week_in_world, period_not_ahead
from libs.common.ids import Uuid


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

    period: str = Field(
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, never later than the current month"
    )

    @field_validator("period")
    @classmethod
    def _not_ahead(cls, value: str) -> str:
        return period_not_ahead(value)


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


class InvestorLineOut(BaseModel):
    """A statement's lines of one month and kind, as the investor reads them: no citizen, no line."""

    month: str | None = Field(description="The month the lines are for (null for the cap)")
    kind: str = Field(description="fee, adjustment or cap")
    citizens: int | None = Field(
        description="Citizens with a line of this month and kind; null if suppressed"
    )
    amount_dkk: Decimal | None = Field(description="The sum of their lines; null if suppressed")
    suppressed: bool = Field(
        description="Fewer than min_citizens citizens, or withheld so that a suppressed cell cannot be "
        "recovered from a total"
    )


class InvestorStatementOut(BaseModel):
    """A statement as the investor reads it: the issued document's header, totals and sha256, with its
    lines summed per month and kind (docs/domain.md "Roles"). The document itself is unchanged."""

    statement_id: str
    programme_id: str
    period: str
    covers_through: str
    issued_at: AwareDatetime
    terms_version: int
    min_citizens: int = Field(description="A cell from fewer citizens than this is suppressed")
    lines: list[InvestorLineOut]
    totals: dict[str, Decimal | None] = Field(
        description="As issued; fees and adjustments null when showing them would reveal a suppressed cell"
    )
    sha256: str = Field(description="Of the issued document (per-citizen lines), as issued")


class InvestorStatementList(BaseModel):
    items: list[InvestorStatementOut]


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
    status_records_held: int = Field(description="Status records settlement holds for the programme")
    data_complete_through: date | None = Field(description="The latest data cut-off settlement has")


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


# --- learning track and the provider's progression summary (issue 7) ---


def _no_float_amount(value: object) -> object:
    if isinstance(value, float):
        raise ValueError('give the amount in DKK as a decimal string, e.g. "125300000.00"')
    return value


class MunicipalSpendingCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spending_dkk: Decimal = Field(
        max_digits=14,
        decimal_places=2,
        description="Total spending on sickness benefit and job clarification that year, in DKK "
        '(a decimal string, "125300000.00"; never a float)',
    )
    note: str | None = Field(default=None, max_length=200)

    @field_validator("spending_dkk", mode="before")
    @classmethod
    def _decimal_string(cls, value: object) -> object:
        return _no_float_amount(value)


class MunicipalSpendingIn(MunicipalSpendingCorrection):
    year: int = Field(ge=2015, le=2100)


class SpendingHistoryEntry(BaseModel):
    spending_dkk: Decimal
    note: str | None
    recorded_at: AwareDatetime
    recorded_by: str
    replaced_at: AwareDatetime
    replaced_by: str


class MunicipalSpendingOut(BaseModel):
    programme_id: str
    year: int
    spending_dkk: Decimal
    note: str | None
    recorded_at: AwareDatetime
    recorded_by: str
    history: list[SpendingHistoryEntry] = Field(
        description="Earlier values replaced by corrections, oldest first"
    )


class MunicipalSpendingList(BaseModel):
    programme_id: str
    items: list[MunicipalSpendingOut]


class LearningYearOut(BaseModel):
    year: int
    spending_dkk: Decimal
    index: Decimal = Field(description="First year = 100, one decimal")


class LearningKpiOut(BaseModel):
    latest_year: int
    latest_spending_dkk: Decimal
    ratio_to_covid_level: Decimal = Field(description="Latest year's spending / the Covid-period level")
    target_met: bool = Field(description="The latest year is at most 80 % of the Covid-period level")
    gap_dkk: Decimal = Field(description="Latest minus the target: above 0, still to cut; at or below 0, met")


class LearningTrackOut(BaseModel):
    programme_id: str
    years: list[LearningYearOut]
    covid_level_dkk: Decimal | None = Field(description="Mean of 2020 and 2021; null until both are stored")
    target_share: Decimal
    target_dkk: Decimal | None = Field(description="80 % of the Covid-period level")
    kpi: LearningKpiOut | None = Field(
        description="The latest year against the target; null without the level"
    )


class ProgressionCellOut(BaseModel):
    period: str
    group: str
    participants: int = Field(description="Participants measured in the period (each counted once)")
    suppressed: bool = Field(description="Fewer than 3 participants: the means are withheld")
    mean_score: Decimal | None
    indicator_means: dict[str, Decimal | None]
    change_since_first: Decimal | None = Field(
        description="Group mean minus the group's mean in its first period that is not suppressed"
    )


class ProgressionSummaryOut(BaseModel):
    programme_id: str
    period: str = Field(description="quarter or month")
    min_participants: int
    baseline_periods: dict[str, str | None] = Field(
        description="Per group, the period its change is measured from"
    )
    cells: list[ProgressionCellOut]
