"""Settlement's routes: parse, call a use case, return a schema."""

from fastapi import APIRouter

from services.settlement.api import months, programmes

router = APIRouter()
router.include_router(programmes.router)
router.include_router(months.router)

__all__ = ["router"]
