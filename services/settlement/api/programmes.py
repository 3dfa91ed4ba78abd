"""Programme routes: terms, statements, summary."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from libs.common.auth import CurrentPrincipal, Principal, Role, require_roles
from libs.common.deps import DatabaseDep
from libs.common.errors import Forbidden, NotFound
from libs.common.ids import Uuid
from services.settlement.api.statement_documents import statement_list, statement_response
from services.settlement.schemas import (
    InvestorStatementList,
    InvestorStatementOut,
    ProgrammeTermsOut,
    StatementList,
    StatementOut,
    SummaryOut,
    TermsVersionOut,
)
from services.settlement.services import programmes, statements

router = APIRouter(prefix="/v1")

Reader = Annotated[
    Principal,
    Depends(
        require_roles(Role.jobcenter, Role.provider, Role.investor, Role.finance, Role.admin, Role.auditor)
    ),
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
    return statement_response(db, row, principal, request)


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
