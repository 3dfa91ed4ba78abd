"""A document as a readable HTML page (``text/html``): the same figures as its UBL, for a person.

Every value is escaped: names and references come from the parties and may hold anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from services.settlement.einvoice.model import (
    CURRENCY,
    DanishAccount,
    DocumentType,
    EInvoice,
    VatCategory,
)
from services.settlement.einvoice.ubl import money

TITLES = {DocumentType.invoice: "Invoice", DocumentType.credit_note: "Credit note"}
STYLE = (
    "body{font-family:sans-serif;max-width:52em;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;width:100%}td,th{padding:.3em .6em;border-bottom:1px solid #ccc;"
    "text-align:left;vertical-align:top}td.n,th.n{text-align:right;white-space:nowrap}"
    ".parties{display:flex;gap:2em}.parties>div{flex:1}"
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _rows(pairs: Sequence[tuple[str, str | None]]) -> str:
    return "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs if v)


def _payment(doc: EInvoice) -> str:
    if doc.document_type is DocumentType.credit_note:
        return ""
    account = doc.payee_account
    pairs: list[tuple[str, str | None]]
    if isinstance(account, DanishAccount):
        pairs = [("Registration no.", account.reg), ("Account no.", account.account)]
    else:
        pairs = [("IBAN", account.iban), ("BIC", account.bic)]
    pairs += [("Due date", doc.due_date.isoformat()), ("Payment reference", doc.number)]
    return f"<h2>Payment</h2><table>{_rows(pairs)}</table>"


def _vat_label(doc: EInvoice) -> str:
    vat = doc.vat
    if vat.category is VatCategory.exempt:
        reason = " ".join(part for part in (vat.exemption_reason_code, vat.exemption_reason) if part)
        return f"Exempt from VAT ({reason})"
    return f"VAT {vat.percent.normalize():f} %"


def render(doc: EInvoice) -> str:
    """The document as a complete HTML page."""
    kind = doc.document_type
    title = f"{TITLES[kind]} {doc.number}"
    seller, buyer = doc.seller, doc.buyer
    seller_rows = [
        ("Name", seller.name),
        ("CVR", seller.cvr),
        ("VAT no.", seller.vat_id if seller.vat_registered else "not registered for VAT"),
        ("Country", seller.address.country),
    ]
    buyer_rows = [
        ("Name", buyer.name),
        ("CVR", buyer.cvr),
        ("EAN/GLN", buyer.gln),
        ("Country", buyer.address.country),
    ]
    head_rows = [
        ("Issue date", doc.issue_date.isoformat()),
        ("Buyer reference (statement)", doc.buyer_reference),
        ("Contract", doc.contract_reference),
        ("Period", f"{doc.period[0].isoformat()} to {doc.period[1].isoformat()}" if doc.period else None),
        ("Corrects", ", ".join(f"{r.number} of {r.issue_date.isoformat()}" for r in doc.corrects) or None),
        ("Note", doc.note),
    ]
    lines = "".join(
        f"<tr><td>{_e(line.line_id)}</td><td>{_e(line.name)}"
        + (f"<br><small>{_e(line.description)}</small>" if line.description else "")
        + f'</td><td class="n">{_e(money(line.amount * doc.sign))}</td></tr>'
        for line in doc.lines
    )
    totals = doc.totals
    total_rows = "".join(
        f'<tr><th>{_e(name)}</th><td class="n">{_e(money(value))} {_e(CURRENCY)}</td></tr>'
        for name, value in (
            ("Total without VAT", totals.line_extension),
            ("VAT", totals.tax),
            ("Amount due" if kind is DocumentType.invoice else "Amount credited", totals.payable),
        )
    )
    attachment = ""
    if doc.attachment is not None:
        size = len(doc.attachment.content)
        attachment = (
            f"<h2>Attachment</h2><p>{_e(doc.attachment.filename)} ({_e(doc.attachment.mime_code)}, "
            f"{size} bytes): {_e(doc.attachment.description or '')}</p>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><table>{_rows(head_rows)}</table>"
        '<div class="parties">'
        f"<div><h2>Seller</h2><table>{_rows(seller_rows)}</table></div>"
        f"<div><h2>Buyer</h2><table>{_rows(buyer_rows)}</table></div></div>"
        f"<h2>Lines</h2><p>{_e(_vat_label(doc))}</p>"
        '<table><tr><th>#</th><th>Item</th><th class="n">Amount (DKK)</th></tr>'
        f"{lines}</table><table>{total_rows}</table>"
        f"{_payment(doc)}{attachment}</body></html>"
    )
