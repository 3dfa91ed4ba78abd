"""Dispute events: a line (or a cell of lines) of an issued statement disputed, and how it ended. Ids,
amounts and the reason code only: never the opener's text, never a participant id or a CPR number."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, Field

from libs.common.contracts.programme import ProgrammeId
from libs.common.events import EventPayload, register


@register
class DisputeOpenedV1(EventPayload):
    """A dispute is opened: its amount is held (owed, not payable) until it is resolved."""

    event_type = "dk.sib.settlement.dispute.opened.v1"

    dispute_id: str
    programme_id: ProgrammeId
    statement_id: str
    month: str = Field(description="The month of the disputed lines (YYYY-MM)")
    kind: str = Field(description="fee or adjustment")
    reason_code: str = Field(
        description="status_wrong, dates_wrong, amount_wrong, duplicate or other (the text is not sent)"
    )
    amount_dkk: Decimal = Field(description="The sum of the disputed lines: held while the dispute is open")
    investor_dkk: Decimal = Field(description="The investor's share of the held amount")
    provider_dkk: Decimal = Field(description="The provider's share of the held amount")
    lines: int = Field(ge=1, description="How many lines the dispute covers")
    opened_by_role: str = Field(description="provider or investor")
    opened_at: AwareDatetime


@register
class DisputeResolvedV1(EventPayload):
    """A dispute ended: upheld or rejected by the jobcenter, or withdrawn by its opener. Its amount is
    no longer held (upheld: the correction comes as an adjustment of a later statement)."""

    event_type = "dk.sib.settlement.dispute.resolved.v1"

    dispute_id: str
    programme_id: ProgrammeId
    statement_id: str
    outcome: Literal["upheld", "rejected", "withdrawn"]
    reason_code: str
    amount_dkk: Decimal = Field(description="The amount that was held")
    resolved_by_role: str = Field(description="jobcenter (upheld, rejected) or the opener's role")
    resolved_at: AwareDatetime
