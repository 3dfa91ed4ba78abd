"""Disputes: opening one, resolving it, and a dispute as its reader sees it."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from libs.common.ids import Uuid, WrittenText
from services.settlement.domain.disputes import Outcome, ReasonCode


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    milestone_ids: list[Uuid] = Field(default_factory=list, max_length=50)
    status_record_ids: list[Uuid] = Field(default_factory=list, max_length=50)


class DisputeRequest(BaseModel):
    """A line by number (the provider), or a (month, kind) cell of the statement (the investor, which
    sees no line numbers; the provider may too): exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    line_no: int | None = Field(default=None, ge=1, le=2**31 - 1)
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    kind: Literal["fee", "adjustment", "cap"] | None = Field(
        default=None, description="fee or adjustment (the cap is refused: it follows from them)"
    )
    reason_code: ReasonCode
    text: WrittenText = Field(max_length=2000, description="Why; never a CPR number (422)")
    evidence: Evidence = Field(default_factory=Evidence, description="Ids only")

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        cell = self.month is not None or self.kind is not None
        if self.line_no is not None and cell:
            raise ValueError("give line_no or month and kind, not both")
        if self.line_no is None and (self.month is None or self.kind is None):
            raise ValueError("give line_no, or month and kind")
        return self


class ResolutionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    reason: WrittenText | None = Field(
        default=None, max_length=2000, description="Required when rejected; never a CPR"
    )

    @model_validator(mode="after")
    def _reason_when_rejected(self) -> Self:
        if self.outcome is Outcome.rejected and self.reason is None:
            raise ValueError("a rejection needs a reason")
        return self


class DisputedLineOut(BaseModel):
    line_no: int
    participant_id: str
    month: str
    amount_dkk: Decimal


class StepOut(BaseModel):
    step: str = Field(description="opened, upheld, rejected or withdrawn")
    by: str | None = Field(description="The sub of who took the step (null for the investor)")
    by_role: str
    at: AwareDatetime
    reason: str | None


class DisputeOut(BaseModel):
    dispute_id: str
    programme_id: str
    statement_id: str
    line_no: int | None = Field(description="The disputed line; null for a cell, or for finance and investor")
    month: str
    kind: str
    reason_code: ReasonCode
    text: str | None = Field(description="Shown to jobcenter, provider, admin and the opener")
    evidence: dict[str, list[str]] | None = Field(description="Shown to jobcenter, provider and admin")
    amount_dkk: Decimal | None = Field(description="The disputed lines' sum; held while open")
    investor_dkk: Decimal | None
    provider_dkk: Decimal | None
    amounts_suppressed: bool = Field(description="Investor: the dispute covers fewer than 3 citizens")
    state: Literal["open", "upheld", "rejected", "withdrawn"]
    held: bool = Field(description="Open: the amount is owed but not payable")
    opened_by_role: str
    opened_at: AwareDatetime
    closed_at: AwareDatetime | None
    resolution_reason: str | None
    age_days: int = Field(description="Whole days open: until now, or until it ended")
    lines: list[DisputedLineOut] | None = Field(description="Jobcenter, provider and admin only")
    steps: list[StepOut]


class HeldOut(BaseModel):
    open_disputes: int
    held_dkk: Decimal | None
    investor_dkk: Decimal | None
    provider_dkk: Decimal | None
    suppressed: bool = Field(description="Investor: withheld, as they would give a small dispute's amount")


class DisputeListOut(BaseModel):
    items: list[DisputeOut]
    held: HeldOut = Field(description="What the programme's open disputes hold, whatever the filters")
