"""Settlement events: recomputed months and issued statements (no person data beyond participant ids)."""

from __future__ import annotations

from datetime import date
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
    rebuild of settlement restores statements from the stream and checks each against its sha256.
    Superseded by statement.issued.v2 (lines in parts: a whole document of many lines does not fit in
    one message); still read, since the stream holds it."""

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


# [kind, participant_id, month, amount_dkk, corrects_statement_id, corrects_line_no]
StatementLineValues = tuple[str, str | None, str | None, Decimal, str | None, int | None]

LINES_PER_PART = 5000  # a part of 5,000 lines stays well under NATS's default 1 MB message limit


@register
class StatementLinesV1(EventPayload):
    """A run of consecutive lines of an issued statement: a statement's lines are published in parts
    of at most 5,000 lines (so every message stays under NATS's 1 MB limit), numbered 1, 2, ...,
    **before** the statement.issued.v2 that completes them. Each line is an array
    ``[kind, participant_id, month, amount_dkk, corrects_statement_id, corrects_line_no]``; its line
    number is ``first_line_no`` plus its index."""

    event_type = "dk.sib.settlement.statement.lines.v1"

    statement_id: str
    programme_id: ProgrammeId
    part: int = Field(ge=1, description="1, 2, ... up to the statement's parts")
    first_line_no: int = Field(ge=1)
    lines: list[StatementLineValues] = Field(
        description="[kind (fee, adjustment or cap), participant_id, month (YYYY-MM), amount_dkk, "
        "corrects_statement_id, corrects_line_no]"
    )


@register
class StatementIssuedV2(EventPayload):
    """An issued statement, without its lines: they were published just before it in ``parts``
    statement.lines.v1 events (none when it has no lines). ``sha256`` is over the whole document, as
    in v1: the canonical JSON (sorted keys, no spaces, amounts as strings) of statement_id,
    programme_id, period, covers_through, issued_at, terms_version, lines (objects with line_no, kind,
    participant_id, month, amount_dkk, corrects_statement_id, corrects_line_no) and totals. A rebuild
    of settlement restores the statement from the parts and checks it against the sha256."""

    event_type = "dk.sib.settlement.statement.issued.v2"

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
    terms_version: int
    issued_by: str = Field(description="Subject of the token that issued it")
    totals: dict[str, Decimal]
    line_count: int = Field(ge=0)
    parts: int = Field(ge=0, description="How many statement.lines.v1 events carry the lines")
    number: int | None = Field(
        default=None,
        ge=1,
        description="The statement's number (1, 2, ... per programme). Present on statements issued by "
        "approving a draft, whose hashed document holds number instead of issued_at: statement_id, "
        "programme_id, period, covers_through, terms_version, number, lines and totals",
    )


@register
class InvoiceIssuedV1(EventPayload):
    """A creditor's e-invoice (Peppol BIS Billing 3.0) or credit note of an issued statement, published
    in the statement's own transaction. ``amount_dkk`` is the creditor's share, signed as the
    statement's (a credit note's is negative); ``number`` runs per creditor (by CVR) without gaps.
    The document itself is served by settlement (``GET /v1/invoices/{invoice_id}/document``)."""

    event_type = "dk.sib.settlement.invoice.issued.v1"

    invoice_id: str
    programme_id: ProgrammeId
    statement_id: str
    creditor: str = Field(description="provider or investor")
    document_type: str = Field(description="invoice or credit_note")
    number: str
    sequence: int = Field(ge=1)
    issue_date: date
    due_date: date
    amount_dkk: Decimal
    corrects: list[str] = Field(default_factory=list, description="Invoice ids a credit note cites")
    # Optional (added after v1 was first published): with them a rebuild restores the invoice row.
    seller_cvr: str | None = Field(default=None, description="The creditor's CVR: its number series")
    payable_dkk: Decimal | None = Field(default=None, description="amount_dkk with the programme's VAT")
    parties_version: int | None = Field(default=None, ge=1, description="Parties version in force")
    terms_version: int | None = Field(default=None, ge=1, description="Terms version of the statement")
    created_at: AwareDatetime | None = None


@register
class PaymentRecordedV1(EventPayload):
    """Finance recorded the municipality's payment on an invoice (once per bank reference)."""

    event_type = "dk.sib.settlement.payment.recorded.v1"

    payment_id: str
    invoice_id: str
    programme_id: ProgrammeId
    creditor: str = Field(description="provider or investor")
    amount_dkk: Decimal
    paid_on: date
    bank_reference: str
    recorded_at: AwareDatetime
    # Optional (added after v1 was first published): the finance officer's sub, for a rebuild.
    recorded_by: str | None = None


@register
class StatementDraftedV1(EventPayload):
    """A statement's draft was prepared (or prepared again, recomputed) for a period: what it held then.
    A draft is not an invoice; only its approval issues a statement (statement.approved.v1, then
    statement.issued.v2, under the draft's id)."""

    event_type = "dk.sib.settlement.statement.drafted.v1"

    draft_id: str
    programme_id: ProgrammeId
    period: str
    number: int = Field(ge=1, description="The number the statement would get if issued now")
    sha256: str = Field(description="Of the document the draft would issue, as computed now")
    line_count: int = Field(ge=0)
    totals: dict[str, Decimal]
    prepared_by: str = Field(description="Subject of the token that prepared it this time")
    created: bool = Field(description="False when an open draft of the period was recomputed")
    prepared_at: AwareDatetime


@register
class StatementApprovedV1(EventPayload):
    """A user of the finance role approved a draft, naming the sha256 they reviewed, and so issued it:
    the statement (statement.issued.v2, same id, same sha256) follows in the same transaction. The
    approver is never one of the draft's preparers."""

    event_type = "dk.sib.settlement.statement.approved.v1"

    draft_id: str
    statement_id: str
    programme_id: ProgrammeId
    period: str
    number: int = Field(ge=1)
    sha256: str
    approved_by: str = Field(description="Subject of the approver's token")
    prepared_by: list[str] = Field(description="Subjects of everyone who prepared the draft")
    approved_at: AwareDatetime
