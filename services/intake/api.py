"""Intake's routes: parse, call a use case, return a schema."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from libs.common.auth import CurrentPrincipal, Principal, Role, require_roles
from libs.common.deps import DatabaseDep as Db
from libs.common.errors import NotFound
from services.intake import services
from services.intake.domain import Programme, TermsVersion
from services.intake.schemas import ProgrammeCreate, ProgrammeList, ProgrammeOut, TermsVersionOut

router = APIRouter(prefix="/v1", tags=["programmes"])

Admin = Annotated[Principal, Depends(require_roles(Role.admin))]


def _version_out(version: TermsVersion) -> TermsVersionOut:
    return TermsVersionOut(
        version=version.version,
        effective_from=version.effective_from,
        published_at=version.published_at,
        terms=version.terms,
    )


def _programme_out(programme: Programme) -> ProgrammeOut:
    return ProgrammeOut(
        programme_id=programme.programme_id,
        name=programme.name,
        current=_version_out(programme.current),
        versions=[_version_out(v) for v in programme.versions],
    )


@router.post(
    "/programmes",
    status_code=status.HTTP_201_CREATED,
    response_model=ProgrammeOut,
    summary="Create a programme with its first contract terms (admin)",
    responses={
        200: {"description": "The same programme was already created (a retry)"},
        409: {"description": "The id exists with other terms"},
    },
)
async def create_programme(body: ProgrammeCreate, _: Admin, db: Db, response: Response) -> ProgrammeOut:
    result = await services.create_programme(db, body)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _programme_out(result.programme)


@router.get("/programmes", response_model=ProgrammeList, summary="Programmes the caller is scoped to")
async def list_programmes(principal: CurrentPrincipal, db: Db) -> ProgrammeList:
    return ProgrammeList(items=[_programme_out(p) for p in await services.list_programmes(db, principal)])


@router.get(
    "/programmes/{programme_id}", response_model=ProgrammeOut, summary="Current terms and version history"
)
async def get_programme(programme_id: str, principal: CurrentPrincipal, db: Db) -> ProgrammeOut:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    return _programme_out(await services.get_programme(db, programme_id))
