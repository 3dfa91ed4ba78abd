"""Invoices made when a statement is issued: per creditor whose share is not zero, one invoice or
credit note, numbered from the creditor's counter inside the issuing transaction."""

from __future__ import annotations

import uuid
from decimal import Decimal

from libs.common.clock import as_utc, utcnow
from libs.common.contracts import InvoiceIssuedV1, ProgrammeTerms
from libs.common.dates import today_in_denmark
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain.invoices import DocumentKind, document_kind, due_date, payable
from services.settlement.models import InvoiceRow, StatementRow
from services.settlement.repository import PartiesRepository, TermsRepository
from services.settlement.repository.invoices import InvoiceRepository, corrected_statements

log = get_logger(__name__)
CREDITORS = ("investor", "provider")


def invoice_number(sequence: int) -> str:
    """The document's number in the creditor's series of platform invoices."""
    return f"SIB-{sequence}"


async def cited_invoices(uow: UnitOfWork, statements: list[str], creditor: str) -> list[str]:
    """The creditor's invoices a credit note corrects: those of ``statements`` (the ones its statement's
    adjustment lines refer to); where that statement's document was itself a credit note, the invoices
    that one cites (so a credit note always cites invoices)."""
    cited: list[str] = []
    for row in await InvoiceRepository(uow.session).of_statements(statements, creditor):
        for invoice_id in [row.invoice_id] if row.document_type == DocumentKind.invoice else row.corrects:
            if invoice_id not in cited:
                cited.append(invoice_id)
    return cited


async def invoice_statement(uow: UnitOfWork, statement: StatementRow) -> list[InvoiceRow]:
    """Make the invoices of a statement being issued, in its unit of work (before the commit), and emit
    an invoice.issued event for each. Without parties in force on the issue day, none are made: the
    statement is issued all the same (README "Invoices")."""
    issue_date = today_in_denmark(as_utc(statement.issued_at))
    found = await PartiesRepository(uow.session).version_as_of(statement.programme_id, issue_date)
    if found is None:
        log.warning("statement_without_parties", programme_id=statement.programme_id, period=statement.period)
        return []
    parties_version, parties = found
    terms_version = int(statement.content["terms_version"])
    terms_row = await TermsRepository(uow.session).get(statement.programme_id, terms_version)
    if terms_row is None:
        raise LookupError(f"terms version {terms_version} of {statement.programme_id} is not held")
    terms = ProgrammeTerms.model_validate(terms_row.terms)
    invoices = InvoiceRepository(uow.session)
    totals = statement.content["totals"]
    made: list[InvoiceRow] = []
    # The statements its lines correct: one scan of its lines, whichever creditors get a credit note.
    corrected: list[str] | None = None
    # Counters are locked in CVR order, so two programmes sharing sellers never wait on each other.
    creditors = sorted(CREDITORS, key=lambda name: (getattr(parties, name).cvr, name))
    for creditor in creditors:
        share = Decimal(totals[creditor])
        if share == 0:
            continue
        kind = document_kind(share)
        seller_cvr = getattr(parties, creditor).cvr
        sequence = await invoices.next_sequence(seller_cvr)
        corrects: list[str] = []
        if kind is DocumentKind.credit_note:
            if corrected is None:
                corrected = await corrected_statements(uow.session, statement.statement_id)
            corrects = await cited_invoices(uow, corrected, creditor)
        row = InvoiceRow(
            invoice_id=str(uuid.uuid4()),
            programme_id=statement.programme_id,
            statement_id=statement.statement_id,
            creditor=creditor,
            seller_cvr=seller_cvr,
            sequence=sequence,
            number=invoice_number(sequence),
            document_type=kind.value,
            issue_date=issue_date,
            due_date=due_date(issue_date, terms.payment_terms_days),
            amount_dkk=share,
            payable_dkk=payable(share, terms.vat.percent),
            parties_version=parties_version,
            terms_version=terms_version,
            corrects=corrects,
            created_at=utcnow(),
        )
        invoices.add(row)
        made.append(row)
        uow.emit(
            new_event(
                InvoiceIssuedV1(
                    invoice_id=row.invoice_id,
                    programme_id=row.programme_id,
                    statement_id=row.statement_id,
                    creditor=creditor,
                    document_type=row.document_type,
                    number=row.number,
                    sequence=sequence,
                    issue_date=issue_date,
                    due_date=row.due_date,
                    amount_dkk=share,
                    corrects=corrects,
                    seller_cvr=seller_cvr,
                    payable_dkk=row.payable_dkk,
                    parties_version=parties_version,
                    terms_version=terms_version,
                    created_at=row.created_at,
                ),
                subject=f"programme/{statement.programme_id}",
            )
        )
    await invoices.flush()
    return made
