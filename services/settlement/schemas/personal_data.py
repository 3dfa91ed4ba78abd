"""Settlement's part of a citizen's right-of-access export (intake's service identity only)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, Field


class ParticipantCopyOut(BaseModel):
    participant_id: str
    programme_id: str
    track: str
    referred_on: date
    enrolled_on: date | None
    withdrawn_on: date | None
    updated_at: AwareDatetime


class RecordCopyOut(BaseModel):
    record_id: str
    code: str
    valid_from: date
    valid_to: date | None
    recording_seq: int
    recorded_at: AwareDatetime


class MeasurementCopyOut(BaseModel):
    measurement_id: str
    measured_on: date
    scores: dict[str, int]
    recorded_at: AwareDatetime


class FeeMonthOut(BaseModel):
    month: str
    in_window_days: int
    self_supporting_days: int
    public_support_days: int
    unknown_days: int
    provisional: bool
    fee_dkk: Decimal
    rule: str
    fee_per_month_dkk: Decimal
    terms_version: int
    cutoff_used: date | None
    computed_at: AwareDatetime


class NamingLineOut(BaseModel):
    statement_id: str
    statement_number: int
    period: str
    line_no: int
    kind: str
    month: str | None
    amount_dkk: Decimal
    corrects_statement_id: str | None
    corrects_line_no: int | None


class DisputedLineOut(BaseModel):
    statement_id: str
    line_no: int
    month: str
    amount_dkk: Decimal


class DisputeStepOut(BaseModel):
    step: str
    by: str
    by_role: str
    at: AwareDatetime
    reason: str | None


class NamingDisputeOut(BaseModel):
    dispute_id: str
    statement_id: str
    month: str
    kind: str
    reason_code: str
    text: str
    state: str
    opened_by: str
    opened_role: str
    opened_at: AwareDatetime
    closed_at: AwareDatetime | None
    resolution_reason: str | None
    lines: list[DisputedLineOut] = Field(description="Only the dispute's lines that name this participant")
    steps: list[DisputeStepOut]


class PersonalDataOut(BaseModel):
    service: str = "settlement"
    participant: ParticipantCopyOut
    status_records: list[RecordCopyOut] = Field(description="Settlement's copy, the basis of the months")
    measurements: list[MeasurementCopyOut] = Field(description="Settlement's copy (outcome reports)")
    months: list[FeeMonthOut]
    statement_lines: list[NamingLineOut] = Field(
        description="Issued statements' lines naming the participant"
    )
    disputes: list[NamingDisputeOut]
    # Who read this participant's data here: filled when settlement keeps a read audit (issue 28).
    read_audit: list[dict[str, object]] = Field(default_factory=list)
