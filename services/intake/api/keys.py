"""Key rotation (admin): re-encrypt and re-pseudonymise stored CPR numbers under the current keys."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from libs.common.deps import DatabaseDep
from services.intake.api.deps import Admin, CallerDep, Protection
from services.intake.schemas import KeyRotationIn, KeyRotationOut
from services.intake.services.keys import rotate_keys

router = APIRouter(prefix="/v1/admin", tags=["keys"])


@router.post(
    "/rotate-keys",
    response_model=KeyRotationOut,
    summary="Re-encrypt stored CPR numbers and recompute pseudonyms under the current keys (admin)",
)
async def post_rotate_keys(
    _: Admin,
    db: DatabaseDep,
    protection: Protection,
    caller: CallerDep,
    request: KeyRotationIn,
) -> KeyRotationOut:
    report = await rotate_keys(
        db, protection, caller, after=request.after or "", max_batches=request.max_batches
    )
    return KeyRotationOut(**asdict(report))
