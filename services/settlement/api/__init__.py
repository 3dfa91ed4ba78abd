"""Settlement's routes: parse, call a use case, return a schema."""

from fastapi import APIRouter

from services.settlement.api import (
    corrections,
    disputes,
    drafts,
    invoices,
    learning,
    months,
    outcomes,
    personal_data,
    programmes,
)

router = APIRouter()
router.include_router(programmes.router)
router.include_router(drafts.router)
router.include_router(months.router)
router.include_router(outcomes.router)
router.include_router(learning.router)
router.include_router(corrections.router)
router.include_router(invoices.router)
router.include_router(disputes.router)
router.include_router(personal_data.router)

__all__ = ["router"]
