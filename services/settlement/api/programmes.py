"""Programme routes: terms, statements, summary."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import Response, StreamingResponse

from libs.common.auth import CurrentPrincipal, Principal, Role, require_roles
from libs.common.db import Database
from libs.common.deps import DatabaseDep
from libs.common.errors import Forbidden, NotFound
from libs.common.ids import Uuid
from services.settlement.api.statement_documents import statement_csv_chunks, statement_json, statement_list
from services.settlement.models import StatementRow
from services.settlement.schemas import (
    InvestorStatementList,
    InvestorStatementOut,
    ProgrammeTermsOut,
    StatementList,
    StatementOut,
    StatementRequest,
    SummaryOut,
    TermsVersionOut,
)
from services.settlement.services import programmes, statements

router = APIRouter(prefix="/v1")

Issuer = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.admin))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.investor, Role.admin))
]


@router.get(
    "/programmes/{programme_id}/terms",
    response_model=ProgrammeTermsOut,
    tags=["programmes"],
    summary="Every terms version settlement holds and the one in force today",
)
async def get_terms(programme_id: str, principal: CurrentPrincipal, db: DatabaseDep) -> ProgrammeTermsOut:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    view = await programmes.programme_terms(db, programme_id)
    return ProgrammeTermsOut(
        programme_id=view.programme_id,
        name=view.name,
        in_force=TermsVersionOut(**vars(view.in_force)) if view.in_force else None,
        versions=[TermsVersionOut(**vars(v)) for v in view.versions],
    )


def _statement_response(
    database: Database, row: StatementRow, principal: Principal, request: Request, status_code: int = 200
) -> StreamingResponse:
    """The statement as JSON (``StatementOut``; the investor's ``InvestorStatementOut``) or, asked with
    ``Accept: text/csv``, as CSV; streamed a chunk of lines at a time from statement_lines (a statement
    may hold millions of lines)."""
    if "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(
            statement_csv_chunks(database, row, principal),
            status_code=status_code,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="statement-{row.period}.csv"'},
        )
    return StreamingResponse(
        statement_json(database, row, principal),
        status_code=status_code,
        media_type="application/json",
    )


@router.post(
    "/programmes/{programme_id}/statements",
    status_code=status.HTTP_201_CREATED,
    response_model=StatementOut,
    tags=["statements"],
    summary="Issue the statement of a period (jobcenter or admin); the same period again returns it (200)",
    responses={
        200: {"description": "The period was issued already: that statement (a retry)"},
        409: {"description": "A later period has been issued already"},
    },
)
async def issue(
    programme_id: str, body: StatementRequest, principal: Issuer, db: DatabaseDep, request: Request
) -> StreamingResponse:
    result = await statements.issue_statement(db, principal, programme_id, body.period)
    return _statement_response(
        db,
        result.statement,
        principal,
        request,
        status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )


@router.get(
    "/programmes/{programme_id}/statements",
    response_model=StatementList | InvestorStatementList,
    tags=["statements"],
    summary="The programme's statements in period order (the investor: lines per month and kind)",
)
async def list_statements(programme_id: str, principal: Reader, db: DatabaseDep) -> Response:
    listed = statement_list(await statements.list_statements(db, principal, programme_id))
    return Response(listed.model_dump_json(), media_type="application/json")


@router.get(
    "/statements/{statement_id}",
    response_model=StatementOut | InvestorStatementOut,
    tags=["statements"],
    summary="One statement, as JSON or as CSV (Accept: text/csv); the investor reads its lines per "
    "month and kind, cells of fewer than 3 citizens suppressed",
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_statement(statement_id: Uuid, principal: Reader, db: DatabaseDep, request: Request) -> Any:
    row = await statements.readable_statement(db, principal, statement_id)
    return _statement_response(db, row, principal, request)


@router.get(
    "/programmes/{programme_id}/summary",
    response_model=SummaryOut,
    tags=["statements"],
    summary="Earned, invoiced, provisional, cap remaining, investor and provider cumulative amounts",
)
async def get_summary(programme_id: str, principal: Reader, db: DatabaseDep) -> SummaryOut:
    if principal.role is Role.integrator:
        raise Forbidden("Not available to this role.")
    result = await statements.summary(db, principal, programme_id)
    return SummaryOut(
        programme_id=programme_id,
        earned_dkk=result.earned,
        invoiced_dkk=result.invoiced,
        provisional_dkk=result.provisional,
        total_cap_dkk=result.total_cap,
        cap_remaining_dkk=result.total_cap - result.invoiced,
        investor_cumulative_dkk=result.investor,
        provider_cumulative_dkk=result.provider,
        statements=result.statements,
        status_records_held=result.records_held,
        data_complete_through=result.cutoff,
    )
