"""E-invoices: a creditor's share of an issued statement as a Peppol BIS Billing 3.0 (UBL 2.1) document.

A document adapter: it takes values (``model.py``) and writes documents; it reads no database and knows
no HTTP or messaging. Per statement and creditor (provider, investor) whose share is not zero, one
document: an ``Invoice`` when the share is positive, a ``CreditNote`` citing the invoices it corrects when
negative. Its lines are the creditor's part of each kind of the statement's lines (``lines.py``), the
statement's own lines travel as an attached CSV (``attachment.py``); ``ubl.py`` writes the XML and
``html.py`` a readable page. The tests validate every document against the UBL 2.1 XSD, the EN 16931
rules and the Peppol BIS Billing 3.0 rules (tests/fixtures/einvoice/README.md).
"""

from services.settlement.einvoice.attachment import StatementLineRow, statement_attachment, statement_csv
from services.settlement.einvoice.html import render
from services.settlement.einvoice.lines import StatementKinds, share_lines
from services.settlement.einvoice.model import (
    EXEMPT_SOCIAL,
    STANDARD_25,
    Address,
    Attachment,
    Buyer,
    DanishAccount,
    DocumentLine,
    DocumentType,
    EInvoice,
    IbanAccount,
    InvoiceReference,
    PayeeAccount,
    Seller,
    Totals,
    VatCategory,
    VatSetting,
)
from services.settlement.einvoice.ubl import build, to_xml

__all__ = [
    "EXEMPT_SOCIAL",
    "STANDARD_25",
    "Address",
    "Attachment",
    "Buyer",
    "DanishAccount",
    "DocumentLine",
    "DocumentType",
    "EInvoice",
    "IbanAccount",
    "InvoiceReference",
    "PayeeAccount",
    "Seller",
    "StatementKinds",
    "StatementLineRow",
    "Totals",
    "VatCategory",
    "VatSetting",
    "build",
    "render",
    "share_lines",
    "statement_attachment",
    "statement_csv",
    "to_xml",
]
