"""Settlement's routes: parse, call a use case, return a schema."""

from __future__ import annotations

from fastapi import APIRouter

from libs.common.auth import CurrentPrincipal
from libs.common.deps import DatabaseDep
from libs.common.errors import NotFound
from services.settlement import services
from services.settlement.schemas import ProgrammeTermsOut

router = APIRouter(prefix="/v1", tags=["programmes"])


@router.get(
    "/programmes/{programme_id}/terms",
    response_model=ProgrammeTermsOut,
    summary="The terms settlement computes with: every version it holds and the one in force today",
)
async def get_terms(programme_id: str, principal: CurrentPrincipal, db: DatabaseDep) -> ProgrammeTermsOut:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    return await services.programme_terms(db, programme_id)
