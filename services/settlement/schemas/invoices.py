"""Invoices, their payments and the receivables per creditor."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from libs.common.dates import WorldDate, not_after_today
from libs.common.ids import WrittenText


class InvoiceOut(BaseModel):
    invoice_id: str
    programme_id: str
    statement_id: str
    creditor: str = Field(description="provider or investor")
    seller_cvr: str
    number: str = Field(description="The creditor's series: SIB-1, SIB-2, ... without gaps")
    sequence: int
    document_type: str = Field(description="invoice or credit_note")
    issue_date: date
    due_date: date
    amount_dkk: Decimal = Field(description="The creditor's share of the statement, signed (credit note < 0)")
    payable_dkk: Decimal = Field(description="The share with VAT, as the document asks it, signed")
    paid_dkk: Decimal
    credited_dkk: Decimal = Field(
        description="Invoice: what credit notes offset; credit note: what it offset"
    )
    open_dkk: Decimal = Field(description="Invoice: still to pay; credit note: its unapplied part (<= 0)")
    status: str = Field(description="open, partially_paid, paid, overdue or credited (computed today)")
    corrects: list[str] = Field(description="A credit note: the invoice ids it cites")
    parties_version: int
    terms_version: int


class InvoiceList(BaseModel):
    items: list[InvoiceOut]


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(
        gt=0, max_digits=14, decimal_places=2, description='DKK, a decimal string ("1250.00")'
    )
    paid_on: WorldDate = Field(description="The day the money arrived; never later than today (Danish time)")
    bank_reference: WrittenText = Field(max_length=100)

    @field_validator("paid_on")
    @classmethod
    def _not_ahead(cls, value: date) -> date:
        # A payment not yet made would count in the realised IRR.
        return not_after_today(value)

    @field_validator("amount", mode="before")
    @classmethod
    def _decimal_string(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('give the amount in DKK as a decimal string, e.g. "1250.00"')
        return value


class PaymentOut(BaseModel):
    payment_id: str
    invoice_id: str
    amount_dkk: Decimal
    paid_on: date
    bank_reference: str
    recorded_at: AwareDatetime | datetime
    recorded_by: str


class PaymentList(BaseModel):
    items: list[PaymentOut]


class ReceivableOut(BaseModel):
    creditor: str
    seller_cvr: str | None
    invoices: int
    credit_notes: int
    owed_dkk: Decimal = Field(description="Invoices minus credit notes, with VAT")
    paid_dkk: Decimal
    open_dkk: Decimal = Field(description="Still to be paid on the invoices")
    overdue_dkk: Decimal = Field(description="The part of open_dkk past its due date")
    unapplied_credit_dkk: Decimal = Field(description="Credit notes that found nothing open: owed back")
    held_by_disputes_dkk: Decimal


class ReceivableList(BaseModel):
    programme_id: str
    as_of: date
    items: list[ReceivableOut]
