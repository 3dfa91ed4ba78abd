"""Settlement events: recomputed months and issued statements (no person data beyond participant ids)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.common.contracts.programme import ProgrammeId
from libs.common.events import EventPayload, register


class MonthChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    month: str
    old_fee_dkk: Decimal | None
    new_fee_dkk: Decimal | None
    provisional: bool


@register
class MonthsRecalculatedV1(EventPayload):
    """Only months whose figures changed; a month that left the window has ``new_fee_dkk`` null."""

    event_type = "dk.sib.settlement.months.recalculated.v1"

    participant_id: str
    programme_id: ProgrammeId
    changes: list[MonthChange]


class StatementLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_no: int
    kind: str = Field(description="fee, adjustment or cap")
    participant_id: str | None
    month: str | None
    amount_dkk: Decimal
    corrects_statement_id: str | None
    corrects_line_no: int | None


@register
class StatementIssuedV1(EventPayload):
    """An issued statement. It carries the whole document (lines, totals, terms version), so a
    rebuild of settlement restores statements from the stream and checks each against its sha256."""

    event_type = "dk.sib.settlement.statement.issued.v1"

    statement_id: str
    programme_id: ProgrammeId
    period: str
    covers_through: str
    issued_at: AwareDatetime
    net_dkk: Decimal
    cumulative_invoiced_dkk: Decimal
    investor_dkk: Decimal
    provider_dkk: Decimal
    sha256: str
    terms_version: int | None = None
    issued_by: str | None = Field(default=None, description="Subject of the token that issued it")
    lines: list[StatementLine] | None = None
    totals: dict[str, Decimal] | None = None
