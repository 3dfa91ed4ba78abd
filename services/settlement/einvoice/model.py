"""What an e-invoice says, before it is written as UBL or HTML: frozen values, money as Decimal øre.

A document is a creditor's share of one issued statement (DOMAIN.md "Invoices and payments"). Its lines
carry amounts signed as the statement does (positive: the municipality owes the creditor); the sign of
their sum makes the document an ``Invoice`` (positive) or a ``CreditNote`` (negative), and ``ubl.py``
writes a credit note's amounts negated, as a credit note's are. Amounts are net of VAT: the statement's
share is the taxable amount, and VAT (none when exempt) comes on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from libs.common.contracts import VAT_EXEMPT_SOCIAL, VatTerms
from libs.common.contracts import VatCategory as VatCategory
from libs.rules import identifiers

ORE = Decimal("0.01")
ZERO = Decimal("0.00")
CURRENCY = "DKK"


def _require_text(value: str, what: str) -> None:
    """Peppol refuses empty elements (PEPPOL-EN16931-R008): a required text has a character."""
    if not value.strip():
        raise ValueError(f"{what} cannot be empty")


class DocumentType(StrEnum):
    invoice = "Invoice"
    credit_note = "CreditNote"


# A programme's VAT treatment is one of its terms; the document takes it as the contract states it.
VatSetting = VatTerms
EXEMPT_SOCIAL = VAT_EXEMPT_SOCIAL
STANDARD_25 = VatTerms(category=VatCategory.standard, percent=Decimal("25"))


@dataclass(frozen=True)
class Address:
    country: str = "DK"
    street: str | None = None
    city: str | None = None
    postal_zone: str | None = None


@dataclass(frozen=True)
class Seller:
    """The creditor (provider or investor). ``vat_registered``: its VAT number is DK + its CVR."""

    name: str
    cvr: str
    vat_registered: bool = True
    address: Address = field(default_factory=Address)

    def __post_init__(self) -> None:
        _require_text(self.name, "the seller's name")
        object.__setattr__(self, "cvr", identifiers.cvr(self.cvr))

    @property
    def vat_id(self) -> str:
        return "DK" + self.cvr


@dataclass(frozen=True)
class Buyer:
    """The municipality: receives invoices at its EAN/GLN number."""

    name: str
    cvr: str
    gln: str
    address: Address = field(default_factory=Address)

    def __post_init__(self) -> None:
        _require_text(self.name, "the buyer's name")
        object.__setattr__(self, "cvr", identifiers.cvr(self.cvr))
        object.__setattr__(self, "gln", identifiers.gln(self.gln))


@dataclass(frozen=True)
class IbanAccount:
    iban: str
    bic: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "iban", identifiers.iban(self.iban))
        if self.bic is not None:
            object.__setattr__(self, "bic", identifiers.bic(self.bic))


@dataclass(frozen=True)
class DanishAccount:
    reg: str
    account: str

    def __post_init__(self) -> None:
        normal = identifiers.danish_account(self.reg, self.account)
        object.__setattr__(self, "reg", normal.reg)
        object.__setattr__(self, "account", normal.account)


PayeeAccount = IbanAccount | DanishAccount


@dataclass(frozen=True)
class DocumentLine:
    """One aggregated line (never a person): ``amount`` signed as the statement's share is."""

    line_id: str
    name: str
    amount: Decimal
    description: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.line_id, "a line's id")
        _require_text(self.name, "a line's name")
        if self.amount != self.amount.quantize(ORE):
            raise ValueError("a line amount is in whole øre")


@dataclass(frozen=True)
class InvoiceReference:
    """An earlier invoice a credit note (or a correcting invoice) corrects."""

    number: str
    issue_date: date


@dataclass(frozen=True)
class Attachment:
    """A document embedded in the e-invoice (the statement's lines as CSV)."""

    reference: str
    filename: str
    content: bytes
    mime_code: str = "text/csv"
    description: str | None = None


@dataclass(frozen=True)
class Totals:
    """The document's totals, all in the document's own sign (a credit note's are positive)."""

    line_extension: Decimal
    tax: Decimal
    tax_inclusive: Decimal
    payable: Decimal


@dataclass(frozen=True)
class EInvoice:
    """A creditor's share of one statement, as one Peppol BIS Billing 3.0 document."""

    number: str
    issue_date: date
    due_date: date
    buyer_reference: str
    seller: Seller
    buyer: Buyer
    payee_account: PayeeAccount
    vat: VatSetting
    lines: tuple[DocumentLine, ...]
    corrects: tuple[InvoiceReference, ...] = ()
    attachment: Attachment | None = None
    note: str | None = None
    period: tuple[date, date] | None = None
    contract_reference: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.number, "the document's number")
        _require_text(self.buyer_reference, "the buyer reference")
        if not self.lines:
            raise ValueError("a document has at least one line")
        if self.share == 0:
            raise ValueError("a share of zero makes no document")
        if self.due_date < self.issue_date:
            raise ValueError("the due date cannot be before the issue date")
        if self.vat.category is VatCategory.standard and not self.seller.vat_registered:
            raise ValueError("only a seller registered for VAT can charge it")

    @property
    def share(self) -> Decimal:
        """The creditor's share: the sum of the lines, signed as the statement's."""
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def document_type(self) -> DocumentType:
        return DocumentType.invoice if self.share > 0 else DocumentType.credit_note

    @property
    def sign(self) -> int:
        """What a statement amount is multiplied by to be written in this document."""
        return 1 if self.document_type is DocumentType.invoice else -1

    @property
    def totals(self) -> Totals:
        net = self.share * self.sign
        tax = (net * self.vat.percent / 100).quantize(ORE, rounding=ROUND_HALF_UP)
        return Totals(line_extension=net, tax=tax, tax_inclusive=net + tax, payable=net + tax)
