"""Progression's routes: parse, call a use case, return a schema."""

from fastapi import APIRouter

from services.progression.api import data_quality, personal_data, programmes, provider, status

router = APIRouter()
router.include_router(programmes.router)
router.include_router(status.router)
router.include_router(provider.router)
router.include_router(data_quality.router)
router.include_router(personal_data.router)

__all__ = ["router"]
