"""The learning track (municipal spending) and the provider's progression summary."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


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
