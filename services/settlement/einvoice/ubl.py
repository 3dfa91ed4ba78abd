"""A document as Peppol BIS Billing 3.0 UBL 2.1: an ``Invoice`` or a ``CreditNote``.

UBL is an ordered schema: every element below is appended in the order of the UBL 2.1 sequence of its
parent (the tests validate each document against the UBL 2.1 XSD, the EN 16931 rules and the Peppol
rules). What the document says, and the choices made for a Danish creditor and a Danish public buyer:

- seller: the creditor, its Peppol address its CVR (scheme 0184), its CVR as legal entity (0184, rule
  DK-R-014), its VAT number DK + CVR when registered, else the CVR as tax registration (scheme "TAX");
- buyer: the municipality, its Peppol address its EAN/GLN (scheme 0088), its CVR as legal entity;
- the statement's number as BuyerReference (Peppol needs it or an order reference);
- payment (invoices): a Danish account as code 42 (account number, registration number as the branch),
  an IBAN with a BIC as code 31, an IBAN alone as code 58; the invoice number as payment reference;
- a credit note cites every invoice it corrects (BillingReference) and carries no payment means;
- one VAT breakdown (the programme's category), lines at quantity 1 (-1 for a line against the
  document's direction, since a price cannot be negative), the statement's lines as an attached CSV.
"""

from __future__ import annotations

import base64
from decimal import Decimal

from lxml import etree

from services.settlement.einvoice.model import (
    CURRENCY,
    ZERO,
    Address,
    DanishAccount,
    DocumentType,
    EInvoice,
    IbanAccount,
)

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
ROOT_NS = {
    DocumentType.invoice: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    DocumentType.credit_note: "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
TYPE_CODE = {DocumentType.invoice: "380", DocumentType.credit_note: "381"}  # UNCL 1001
SCHEME_CVR = "0184"  # ISO 6523 ICD: Danish CVR
SCHEME_GLN = "0088"  # ISO 6523 ICD: GS1 GLN
UNIT = "C62"  # UN/ECE Rec 20: "one"


def _cbc(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CBC}}}{name}", attributes)
    element.text = text
    return element


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{CAC}}}{name}")


def money(amount: Decimal) -> str:
    """An amount with two decimals and never a negative zero."""
    return f"{amount + ZERO:.2f}" if amount != 0 else "0.00"


def _amount(parent: etree._Element, name: str, amount: Decimal) -> None:
    _cbc(parent, name, money(amount), currencyID=CURRENCY)


def _percent(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _address(party: etree._Element, address: Address) -> None:
    postal = _cac(party, "PostalAddress")
    if address.street:
        _cbc(postal, "StreetName", address.street)
    if address.city:
        _cbc(postal, "CityName", address.city)
    if address.postal_zone:
        _cbc(postal, "PostalZone", address.postal_zone)
    _cbc(_cac(postal, "Country"), "IdentificationCode", address.country)


def _tax_scheme(parent: etree._Element, scheme: str = "VAT") -> None:
    _cbc(_cac(parent, "TaxScheme"), "ID", scheme)


def _seller(root: etree._Element, doc: EInvoice) -> None:
    seller = doc.seller
    party = _cac(_cac(root, "AccountingSupplierParty"), "Party")
    _cbc(party, "EndpointID", seller.cvr, schemeID=SCHEME_CVR)
    _cbc(_cac(party, "PartyName"), "Name", seller.name)
    _address(party, seller.address)
    tax = _cac(party, "PartyTaxScheme")
    if seller.vat_registered:
        _cbc(tax, "CompanyID", seller.vat_id)
        _tax_scheme(tax)
    else:
        _cbc(tax, "CompanyID", seller.cvr)
        _tax_scheme(tax, "TAX")
    legal = _cac(party, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", seller.name)
    _cbc(legal, "CompanyID", seller.cvr, schemeID=SCHEME_CVR)


def _buyer(root: etree._Element, doc: EInvoice) -> None:
    buyer = doc.buyer
    party = _cac(_cac(root, "AccountingCustomerParty"), "Party")
    _cbc(party, "EndpointID", buyer.gln, schemeID=SCHEME_GLN)
    _cbc(_cac(party, "PartyName"), "Name", buyer.name)
    _address(party, buyer.address)
    legal = _cac(party, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", buyer.name)
    _cbc(legal, "CompanyID", buyer.cvr, schemeID=SCHEME_CVR)


def _payment_means(root: etree._Element, doc: EInvoice) -> None:
    account = doc.payee_account
    means = _cac(root, "PaymentMeans")
    if isinstance(account, DanishAccount):
        code, account_id, branch = "42", account.account, account.reg
    elif isinstance(account, IbanAccount) and account.bic is not None:
        code, account_id, branch = "31", account.iban, account.bic
    else:
        code, account_id, branch = "58", account.iban, None
    _cbc(means, "PaymentMeansCode", code)
    _cbc(means, "PaymentID", doc.number)
    payee = _cac(means, "PayeeFinancialAccount")
    _cbc(payee, "ID", account_id)
    if branch is not None:
        _cbc(_cac(payee, "FinancialInstitutionBranch"), "ID", branch)


def _tax_category(parent: etree._Element, name: str, doc: EInvoice, with_reason: bool) -> None:
    category = _cac(parent, name)
    _cbc(category, "ID", doc.vat.category.value)
    _cbc(category, "Percent", _percent(doc.vat.percent))
    if with_reason and doc.vat.exemption_reason_code:
        _cbc(category, "TaxExemptionReasonCode", doc.vat.exemption_reason_code)
    if with_reason and doc.vat.exemption_reason:
        _cbc(category, "TaxExemptionReason", doc.vat.exemption_reason)
    _tax_scheme(category)


def _totals(root: etree._Element, doc: EInvoice) -> None:
    totals = doc.totals
    tax_total = _cac(root, "TaxTotal")
    _amount(tax_total, "TaxAmount", totals.tax)
    subtotal = _cac(tax_total, "TaxSubtotal")
    _amount(subtotal, "TaxableAmount", totals.line_extension)
    _amount(subtotal, "TaxAmount", totals.tax)
    _tax_category(subtotal, "TaxCategory", doc, with_reason=True)
    monetary = _cac(root, "LegalMonetaryTotal")
    _amount(monetary, "LineExtensionAmount", totals.line_extension)
    _amount(monetary, "TaxExclusiveAmount", totals.line_extension)
    _amount(monetary, "TaxInclusiveAmount", totals.tax_inclusive)
    _amount(monetary, "PayableAmount", totals.payable)


def _lines(root: etree._Element, doc: EInvoice) -> None:
    invoice = doc.document_type is DocumentType.invoice
    for line in doc.lines:
        amount = line.amount * doc.sign
        element = _cac(root, "InvoiceLine" if invoice else "CreditNoteLine")
        _cbc(element, "ID", line.line_id)
        quantity = "1" if amount >= 0 else "-1"
        _cbc(element, "InvoicedQuantity" if invoice else "CreditedQuantity", quantity, unitCode=UNIT)
        _amount(element, "LineExtensionAmount", amount)
        item = _cac(element, "Item")
        if line.description:
            _cbc(item, "Description", line.description)
        _cbc(item, "Name", line.name)
        _tax_category(item, "ClassifiedTaxCategory", doc, with_reason=False)
        _amount(_cac(element, "Price"), "PriceAmount", abs(amount))


def _references(root: etree._Element, doc: EInvoice) -> None:
    for reference in doc.corrects:
        cited = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(cited, "ID", reference.number)
        _cbc(cited, "IssueDate", reference.issue_date.isoformat())
    if doc.contract_reference:
        _cbc(_cac(root, "ContractDocumentReference"), "ID", doc.contract_reference)
    if doc.attachment is not None:
        attachment = doc.attachment
        additional = _cac(root, "AdditionalDocumentReference")
        _cbc(additional, "ID", attachment.reference)
        if attachment.description:
            _cbc(additional, "DocumentDescription", attachment.description)
        _cbc(
            _cac(additional, "Attachment"),
            "EmbeddedDocumentBinaryObject",
            base64.b64encode(attachment.content).decode("ascii"),
            mimeCode=attachment.mime_code,
            filename=attachment.filename,
        )


def build(doc: EInvoice) -> etree._Element:
    """The document's UBL element tree."""
    kind = doc.document_type
    root = etree.Element(
        f"{{{ROOT_NS[kind]}}}{kind.value}", nsmap={None: ROOT_NS[kind], "cac": CAC, "cbc": CBC}
    )
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", doc.number)
    _cbc(root, "IssueDate", doc.issue_date.isoformat())
    if kind is DocumentType.invoice:
        _cbc(root, "DueDate", doc.due_date.isoformat())
        _cbc(root, "InvoiceTypeCode", TYPE_CODE[kind])
    else:
        _cbc(root, "CreditNoteTypeCode", TYPE_CODE[kind])
    if doc.note:
        _cbc(root, "Note", doc.note)
    _cbc(root, "DocumentCurrencyCode", CURRENCY)
    _cbc(root, "BuyerReference", doc.buyer_reference)
    if doc.period is not None:
        period = _cac(root, "InvoicePeriod")
        _cbc(period, "StartDate", doc.period[0].isoformat())
        _cbc(period, "EndDate", doc.period[1].isoformat())
    _references(root, doc)
    _seller(root, doc)
    _buyer(root, doc)
    if kind is DocumentType.invoice:
        _payment_means(root, doc)
        terms = f"Due {doc.due_date.isoformat()}; pay with reference {doc.number}"
    else:
        cited = ", ".join(reference.number for reference in doc.corrects) or "earlier invoices"
        terms = f"Credits {cited}: to be set off against what the buyer owes the seller"
    _cbc(_cac(root, "PaymentTerms"), "Note", terms)
    _totals(root, doc)
    _lines(root, doc)
    return root


def to_xml(doc: EInvoice) -> bytes:
    """The document as UTF-8 XML bytes (``application/xml``)."""
    return etree.tostring(build(doc), xml_declaration=True, encoding="UTF-8", pretty_print=True)
