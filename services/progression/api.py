"""Progression's routes: parse, call a use case, return a schema."""

from __future__ import annotations

from fastapi import APIRouter

from libs.common.auth import CurrentPrincipal
from libs.common.deps import DatabaseDep
from libs.common.errors import NotFound
from services.progression import services
from services.progression.schemas import ProgrammeOut

router = APIRouter(prefix="/v1", tags=["programmes"])


@router.get(
    "/programmes/{programme_id}",
    response_model=ProgrammeOut,
    summary="What progression knows of a programme: terms version, status categories, data cut-off",
)
async def get_programme(programme_id: str, principal: CurrentPrincipal, db: DatabaseDep) -> ProgrammeOut:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    return await services.get_programme(db, programme_id)
