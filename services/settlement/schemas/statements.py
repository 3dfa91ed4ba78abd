"""Statements (the issued document, and the investor's reading of it) and the programme's summary."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from libs.common.dates import period_not_ahead


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
    dispute_id: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,  # absent, as in the streamed document, when none
        description="On an adjustment of a (citizen, month) an upheld dispute covered: that dispute "
        "(found when read; not part of the issued document or its sha256)",
    )


class StatementOut(BaseModel):
    statement_id: str
    programme_id: str
    period: str
    covers_through: str
    issued_at: AwareDatetime
    terms_version: int
    number: int = Field(description="1, 2, ... per programme, in issue order")
    lines: list[LineOut]
    totals: dict[str, Decimal]
    sha256: str
    hashed: list[str] = Field(
        description="The fields the sha256 covers: it is the sha256 of their canonical JSON (sorted keys, "
        "no spaces, amounts as text). A statement issued from a draft leaves issued_at out, so its draft "
        "had the same sha256"
    )


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
    number: int
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
