"""Invoice routes: the invoices of a programme, one invoice, its document (UBL XML or HTML), its
payments, and the receivables per creditor."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response

from libs.common.auth import Principal, Role, require_roles
from libs.common.dates import WorldDate
from libs.common.deps import DatabaseDep, WorkersDep
from libs.common.ids import Uuid
from services.settlement.domain.invoices import InvoiceStatus
from services.settlement.schemas.invoices import (
    InvoiceList,
    InvoiceOut,
    PaymentIn,
    PaymentList,
    PaymentOut,
    ReceivableList,
    ReceivableOut,
)
from services.settlement.services import invoices as service

router = APIRouter(prefix="/v1", tags=["invoices"])

Reader = Annotated[
    Principal,
    Depends(
        require_roles(Role.finance, Role.jobcenter, Role.admin, Role.provider, Role.investor, Role.auditor)
    ),
]
Finance = Annotated[Principal, Depends(require_roles(Role.finance))]


def invoice_out(view: service.InvoiceView) -> InvoiceOut:
    return InvoiceOut(**asdict(view))


@router.get(
    "/programmes/{programme_id}/invoices",
    response_model=InvoiceList,
    summary="A programme's invoices and credit notes with their status (a provider or investor: its own)",
)
async def list_invoices(
    programme_id: str,
    principal: Reader,
    db: DatabaseDep,
    creditor: Literal["provider", "investor"] | None = None,
    document_type: Literal["invoice", "credit_note"] | None = None,
    invoice_status: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    statement_id: Uuid | None = None,
    issued_from: WorldDate | None = None,
    issued_to: WorldDate | None = None,
) -> InvoiceList:
    views = await service.list_invoices(
        db,
        principal,
        programme_id,
        creditor,
        document_type,
        invoice_status,
        statement_id,
        issued_from,
        issued_to,
    )
    return InvoiceList(items=[invoice_out(v) for v in views])


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut, summary="An invoice and its status")
async def get_invoice(invoice_id: Uuid, principal: Reader, db: DatabaseDep) -> InvoiceOut:
    return invoice_out(await service.get_invoice(db, principal, invoice_id))


async def _document(
    invoice_id: str, principal: Principal, db: DatabaseDep, workers: WorkersDep, html: bool
) -> Response:
    row, document = await service.invoice_document(db, principal, invoice_id)
    body = await workers.run(service.document_bytes, document, html)
    kind = "html" if html else "xml"
    return Response(
        body,
        media_type="text/html; charset=utf-8" if html else "application/xml",
        headers={"Content-Disposition": f'inline; filename="{row.creditor}-{row.number}.{kind}"'},
    )


@router.get(
    "/invoices/{invoice_id}/document",
    summary="The Peppol BIS Billing 3.0 UBL document (Accept: text/html for a readable page)",
    responses={200: {"content": {"application/xml": {}, "text/html": {}}}},
    response_class=Response,
)
async def get_document(
    invoice_id: Uuid, request: Request, principal: Reader, db: DatabaseDep, workers: WorkersDep
) -> Response:
    html = "text/html" in request.headers.get("accept", "")
    return await _document(invoice_id, principal, db, workers, html)


@router.get(
    "/invoices/{invoice_id}/document.html",
    summary="The document as a readable HTML page",
    responses={200: {"content": {"text/html": {}}}},
    response_class=Response,
)
async def get_document_html(
    invoice_id: Uuid, principal: Reader, db: DatabaseDep, workers: WorkersDep
) -> Response:
    return await _document(invoice_id, principal, db, workers, True)


@router.post(
    "/invoices/{invoice_id}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    summary="Record a payment (finance); the same bank_reference again: 200 if the same, 409 if not",
)
async def record_payment(invoice_id: Uuid, body: PaymentIn, principal: Finance, db: DatabaseDep) -> Response:
    recorded = await service.record_payment(
        db, principal, invoice_id, body.amount, body.paid_on, body.bank_reference
    )
    out = PaymentOut(**asdict(recorded.payment))
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
    )


@router.get("/invoices/{invoice_id}/payments", response_model=PaymentList, summary="An invoice's payments")
async def list_payments(invoice_id: Uuid, principal: Reader, db: DatabaseDep) -> PaymentList:
    return PaymentList(
        items=[PaymentOut(**asdict(p)) for p in await service.payments_of(db, principal, invoice_id)]
    )


@router.get(
    "/programmes/{programme_id}/receivables",
    response_model=ReceivableList,
    summary="Per creditor: owed, paid, open, overdue, held by disputes (a provider or investor: its own)",
)
async def get_receivables(programme_id: str, principal: Reader, db: DatabaseDep) -> ReceivableList:
    rows = await service.receivables(db, principal, programme_id)
    return ReceivableList(
        programme_id=programme_id,
        as_of=service.today(),
        items=[ReceivableOut(**asdict(row)) for row in rows],
    )
