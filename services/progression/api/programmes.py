"""Programme routes: what progression knows of a programme, and the data cut-off."""

from __future__ import annotations

from fastapi import APIRouter

from libs.common.auth import CurrentPrincipal
from libs.common.contracts import STATUS_CODES
from libs.common.deps import DatabaseDep
from libs.common.errors import NotFound
from services.progression.api.deps import Jobcenter
from services.progression.schemas import CutoffIn, CutoffOut, ProgrammeOut, StatusCodeList, StatusCodeOut
from services.progression.services import programmes

router = APIRouter(prefix="/v1")


@router.get(
    "/programmes/{programme_id}",
    response_model=ProgrammeOut,
    tags=["programmes"],
    summary="What progression knows of a programme: terms version, status categories, data cut-off",
)
async def get_programme(programme_id: str, principal: CurrentPrincipal, db: DatabaseDep) -> ProgrammeOut:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    return await programmes.get_programme(db, programme_id)


@router.put(
    "/programmes/{programme_id}/data-cutoff",
    response_model=CutoffOut,
    tags=["programmes"],
    summary="Declare every benefit period up to complete_through reported (jobcenter); only moves forward",
    responses={409: {"description": "Earlier than the current cut-off"}},
)
async def put_cutoff(programme_id: str, body: CutoffIn, principal: Jobcenter, db: DatabaseDep) -> CutoffOut:
    result = await programmes.advance_cutoff(db, principal, programme_id, body.complete_through)
    return CutoffOut(**vars(result))


@router.get("/status-codes", response_model=StatusCodeList, tags=["status"], summary="The status vocabulary")
async def status_codes(_: CurrentPrincipal) -> StatusCodeList:
    return StatusCodeList(
        items=[
            StatusCodeOut(code=code, danish_name=name, default_category=category)
            for code, (name, category) in STATUS_CODES.items()
        ]
    )
