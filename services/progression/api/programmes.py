"""Programme routes: what progression knows of a programme, and the data cut-off."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from libs.common.auth import CurrentPrincipal
from libs.common.contracts import STATUS_CODES
from libs.common.deps import DatabaseDep
from libs.common.errors import NotFound
from services.progression.api.deps import Jobcenter
from services.progression.schemas import (
    CutoffHistoryOut,
    CutoffIn,
    CutoffOut,
    CutoffRetractionIn,
    ProgrammeOut,
    StatusCodeList,
    StatusCodeOut,
)
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
    return ProgrammeOut.model_validate(await programmes.get_programme(db, programme_id), from_attributes=True)


@router.put(
    "/programmes/{programme_id}/data-cutoff",
    response_model=CutoffOut,
    tags=["programmes"],
    summary="Declare every benefit period up to complete_through reported (jobcenter); only moves forward",
    responses={
        404: {"description": "No such programme in the caller's scope"},
        409: {"description": "Earlier than the current cut-off (a mistake is taken back by a retraction)"},
        422: {"description": "complete_through outside 1900-2100 or later than today (Danish time)"},
    },
)
async def put_cutoff(programme_id: str, body: CutoffIn, principal: Jobcenter, db: DatabaseDep) -> CutoffOut:
    result = await programmes.advance_cutoff(db, principal, programme_id, body.complete_through)
    return CutoffOut(**vars(result))


@router.post(
    "/programmes/{programme_id}/data-cutoff/retractions",
    response_model=CutoffOut,
    status_code=status.HTTP_201_CREATED,
    tags=["programmes"],
    summary="Take a mistaken cut-off move back to an earlier date, with a reason (jobcenter)",
    responses={
        200: {"model": CutoffOut, "description": "The same retraction again: the one already recorded"},
        404: {"description": "No such programme in the caller's scope"},
        409: {"description": "Not earlier than the current cut-off, or no cut-off yet"},
        422: {"description": "complete_through or reason invalid (a reason holding a CPR-shaped number)"},
    },
)
async def retract_cutoff(
    programme_id: str, body: CutoffRetractionIn, principal: Jobcenter, db: DatabaseDep, response: Response
) -> CutoffOut:
    result, created = await programmes.retract_cutoff(
        db, principal, programme_id, body.complete_through, body.reason
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return CutoffOut(**vars(result))


@router.get(
    "/programmes/{programme_id}/data-cutoff/history",
    response_model=CutoffHistoryOut,
    tags=["programmes"],
    summary="Every move of the data cut-off, advances and retractions, oldest first",
    responses={404: {"description": "No such programme in the caller's scope"}},
)
async def cutoff_history(programme_id: str, principal: CurrentPrincipal, db: DatabaseDep) -> CutoffHistoryOut:
    items = await programmes.cutoff_history(db, principal, programme_id)
    return CutoffHistoryOut(programme_id=programme_id, items=[CutoffOut(**vars(item)) for item in items])


@router.get("/status-codes", response_model=StatusCodeList, tags=["status"], summary="The status vocabulary")
async def status_codes(_: CurrentPrincipal) -> StatusCodeList:
    return StatusCodeList(
        items=[
            StatusCodeOut(code=code, danish_name=name, default_category=category)
            for code, (name, category) in STATUS_CODES.items()
        ]
    )
