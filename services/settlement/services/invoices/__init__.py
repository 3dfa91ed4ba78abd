"""Invoices (Peppol BIS Billing 3.0 e-invoices and credit notes) made when a statement is issued, their
payments and the receivables (DOMAIN.md "Invoices and payments"; services/settlement/README.md).

``invoice_statement`` is the one call the statement's issue makes, in its unit of work."""

from services.settlement.services.invoices.create import invoice_number, invoice_statement
from services.settlement.services.invoices.documents import buyer_reference
from services.settlement.services.invoices.payments import (
    PaymentView,
    Recorded,
    payments_of,
    record_payment,
)
from services.settlement.services.invoices.reads import (
    InvoiceView,
    Receivable,
    document_bytes,
    get_invoice,
    invoice_document,
    list_invoices,
    receivables,
    today,
)

__all__ = [
    "InvoiceView",
    "PaymentView",
    "Receivable",
    "Recorded",
    "buyer_reference",
    "document_bytes",
    "get_invoice",
    "invoice_document",
    "invoice_number",
    "invoice_statement",
    "list_invoices",
    "payments_of",
    "receivables",
    "record_payment",
    "today",
]
