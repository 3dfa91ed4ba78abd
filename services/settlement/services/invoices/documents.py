"""An invoice's document, rendered from what was stored when it was made (the statement, its lines,
the parties version, the terms version, the cited invoices): the same bytes every time it is asked."""

from __future__ import annotations

from decimal import Decimal

from libs.common.contracts import Creditor, Municipality, ProgrammeParties, ProgrammeTerms
from libs.common.uow import UnitOfWork
from services.settlement.einvoice import (
    Address,
    Buyer,
    DanishAccount,
    EInvoice,
    IbanAccount,
    InvoiceReference,
    PayeeAccount,
    Seller,
    StatementKinds,
    StatementLineRow,
    share_lines,
    statement_attachment,
)
from services.settlement.models import InvoiceRow, StatementRow
from services.settlement.repository import PartiesRepository, StatementRepository, TermsRepository
from services.settlement.repository.invoices import InvoiceRepository
from services.settlement.repository.statements import lines_of


def buyer_reference(statement: StatementRow) -> str:
    """The reference the municipality's finance system matches a document by (Peppol BuyerReference):
    the programme and the statement's number."""
    return f"{statement.programme_id}/{statement.number}"


def _address(party: Creditor | Municipality) -> Address:
    return Address(party.country, party.street, party.city, party.postal_zone)


def _account(creditor: Creditor) -> PayeeAccount:
    account = creditor.bank_account
    if account.iban is not None:
        return IbanAccount(account.iban, account.bic)
    assert account.reg_no is not None and account.account_no is not None  # the contract checks it
    return DanishAccount(account.reg_no, account.account_no)


async def load_document(uow: UnitOfWork, invoice: InvoiceRow) -> EInvoice:
    """The e-invoice of a stored invoice row, in the reading transaction."""
    session = uow.session
    statement = await StatementRepository(session).get(invoice.statement_id)
    parties_row = await PartiesRepository(session).get(invoice.programme_id, invoice.parties_version)
    terms_row = await TermsRepository(session).get(invoice.programme_id, invoice.terms_version)
    if statement is None or parties_row is None or terms_row is None:
        raise LookupError(f"invoice {invoice.invoice_id} refers to data settlement does not hold")
    parties = ProgrammeParties.model_validate(parties_row.parties)
    terms = ProgrammeTerms.model_validate(terms_row.terms)
    creditor: Creditor = getattr(parties, invoice.creditor)
    totals = statement.content["totals"]
    kinds = StatementKinds(
        fees=Decimal(totals["fees"]), adjustments=Decimal(totals["adjustments"]), cap=Decimal(totals["cap"])
    )
    percent = getattr(terms.split, f"{invoice.creditor}_percent")
    reference = buyer_reference(statement)
    repository = InvoiceRepository(session)
    cited = [await repository.get(invoice_id) for invoice_id in invoice.corrects]
    rows = [
        StatementLineRow(*values)
        async for chunk in lines_of(session, statement.statement_id)
        for values in chunk
    ]
    municipality = parties.municipality
    return EInvoice(
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        buyer_reference=reference,
        seller=Seller(creditor.name, creditor.cvr, creditor.vat_registered, _address(creditor)),
        buyer=Buyer(municipality.name, municipality.cvr, municipality.gln, _address(municipality)),
        payee_account=_account(creditor),
        vat=terms.vat,
        lines=share_lines(kinds, invoice.amount_dkk, percent / 100, reference),
        corrects=tuple(InvoiceReference(row.number, row.issue_date) for row in cited if row is not None),
        attachment=statement_attachment(reference, rows),
        note=f"The {invoice.creditor}'s share of statement {reference}",
        contract_reference=invoice.programme_id,
    )
