"""Intake's routes: parse, call a use case, return a schema."""

from fastapi import APIRouter

from services.intake.api import access, audit, erasures, keys, participants, parties, programmes

router = APIRouter()
router.include_router(programmes.router)
router.include_router(parties.router)
router.include_router(participants.router)
router.include_router(audit.router)
router.include_router(keys.router)
router.include_router(access.router)
router.include_router(erasures.router)

__all__ = ["router"]
