"""Programme routes."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from libs.common.auth import CurrentPrincipal
from libs.common.deps import DatabaseDep
from libs.common.errors import NotFound
from services.intake.api.deps import Admin
from services.intake.domain import Programme, TermsVersion
from services.intake.schemas import (
    ProgrammeCreate,
    ProgrammeList,
    ProgrammeOut,
    TermsVersionCreate,
    TermsVersionOut,
)
from services.intake.services import programmes

router = APIRouter(prefix="/v1", tags=["programmes"])


def _version_out(version: TermsVersion) -> TermsVersionOut:
    return TermsVersionOut(
        version=version.version,
        effective_from=version.effective_from,
        published_at=version.published_at,
        terms=version.terms,
    )


def programme_out(programme: Programme) -> ProgrammeOut:
    return ProgrammeOut(
        programme_id=programme.programme_id,
        name=programme.name,
        current=_version_out(programme.current),
        versions=[_version_out(v) for v in programme.versions],
        invoiced_through=programme.invoiced_through,
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
async def create_programme(
    body: ProgrammeCreate, _: Admin, db: DatabaseDep, response: Response
) -> ProgrammeOut:
    result = await programmes.create_programme(db, body)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return programme_out(result.programme)


@router.post(
    "/programmes/{programme_id}/terms",
    status_code=status.HTTP_201_CREATED,
    response_model=ProgrammeOut,
    summary="Publish a new terms version with an effective date (admin); versions are never edited",
    responses={
        200: {"description": "The same version was already published (a retry)"},
        404: {"description": "No such programme"},
        409: {"description": "Another version was published at the same moment"},
        422: {
            "description": "effective_from before the current version's, or not after the last month "
            "issued statements cover (terms never reprice what was invoiced); or a track with "
            "participants dropped"
        },
    },
)
async def publish_terms(
    programme_id: str, body: TermsVersionCreate, _: Admin, db: DatabaseDep, response: Response
) -> ProgrammeOut:
    result = await programmes.publish_terms_version(db, programme_id, body)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return programme_out(result.programme)


@router.get("/programmes", response_model=ProgrammeList, summary="Programmes the caller is scoped to")
async def list_programmes(principal: CurrentPrincipal, db: DatabaseDep) -> ProgrammeList:
    return ProgrammeList(items=[programme_out(p) for p in await programmes.list_programmes(db, principal)])


@router.get(
    "/programmes/{programme_id}", response_model=ProgrammeOut, summary="Current terms and version history"
)
async def get_programme(programme_id: str, principal: CurrentPrincipal, db: DatabaseDep) -> ProgrammeOut:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    return programme_out(await programmes.get_programme(db, programme_id))
