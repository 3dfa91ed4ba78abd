"""Dispute routes: open on a statement's line or cell, read, resolve, withdraw, list per programme."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from libs.common.auth import Principal, Role, require_roles
from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from services.settlement.domain.disputes import DisputeState
from services.settlement.schemas.disputes import (
    DisputeListOut,
    DisputeOut,
    DisputeRequest,
    HeldOut,
    ResolutionRequest,
)
from services.settlement.services import disputes
from services.settlement.services.disputes import DisputeView, Target

router = APIRouter(prefix="/v1", tags=["disputes"])

Opener = Annotated[Principal, Depends(require_roles(Role.provider, Role.investor))]
Resolver = Annotated[Principal, Depends(require_roles(Role.jobcenter))]
Reader = Annotated[
    Principal,
    Depends(
        require_roles(Role.jobcenter, Role.provider, Role.investor, Role.admin, Role.finance, Role.auditor)
    ),
]


def dispute_out(view: DisputeView) -> DisputeOut:
    return DisputeOut.model_validate(asdict(view))


@router.post(
    "/statements/{statement_id}/disputes",
    status_code=status.HTTP_201_CREATED,
    response_model=DisputeOut,
    summary="Dispute a line (provider) or a (month, kind) cell (investor) of an issued statement",
    responses={
        200: {"description": "The same opener's open dispute of the same line or cell (a retry)"},
        409: {"description": "Another open dispute holds one of the lines"},
    },
)
async def open_dispute(
    statement_id: Uuid, body: DisputeRequest, principal: Opener, db: DatabaseDep, response: Response
) -> DisputeOut:
    opened = await disputes.open_dispute(
        db,
        principal,
        statement_id,
        Target(body.line_no, body.month, body.kind),
        body.reason_code,
        body.text,
        body.evidence.model_dump(),
    )
    if not opened.created:
        response.status_code = status.HTTP_200_OK
    return dispute_out(opened.view)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut, summary="One dispute with its steps")
async def get_dispute(dispute_id: Uuid, principal: Reader, db: DatabaseDep) -> DisputeOut:
    return dispute_out(await disputes.get_dispute(db, principal, dispute_id))


@router.post(
    "/disputes/{dispute_id}/resolution",
    response_model=DisputeOut,
    summary="The jobcenter upholds or rejects (with a reason) an open dispute; the same again is a retry",
    responses={409: {"description": "The dispute ended otherwise already"}},
)
async def resolve_dispute(
    dispute_id: Uuid, body: ResolutionRequest, principal: Resolver, db: DatabaseDep
) -> DisputeOut:
    return dispute_out(await disputes.resolve_dispute(db, principal, dispute_id, body.outcome, body.reason))


@router.post(
    "/disputes/{dispute_id}/withdrawal",
    response_model=DisputeOut,
    summary="The opener (the same sub) withdraws an open dispute; the same again is a retry",
    responses={409: {"description": "The dispute was resolved already"}},
)
async def withdraw_dispute(dispute_id: Uuid, principal: Opener, db: DatabaseDep) -> DisputeOut:
    return dispute_out(await disputes.withdraw_dispute(db, principal, dispute_id))


@router.get(
    "/programmes/{programme_id}/disputes",
    response_model=DisputeListOut,
    summary="The programme's disputes with their ages, filtered, and what the open ones hold",
)
async def list_disputes(
    programme_id: str,
    principal: Reader,
    db: DatabaseDep,
    state: Annotated[DisputeState | None, Query()] = None,
    opened_by: Annotated[
        Literal["provider", "investor"] | None, Query(description="The opener's role")
    ] = None,
    statement_id: Annotated[Uuid | None, Query()] = None,
) -> DisputeListOut:
    listed = await disputes.list_disputes(db, principal, programme_id, state, opened_by, statement_id)
    return DisputeListOut(
        items=[dispute_out(view) for view in listed.items], held=HeldOut(**asdict(listed.held))
    )
