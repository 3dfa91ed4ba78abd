"""The CPR audit trail (admin; the jobcenter and the auditor for their programmes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from services.intake.api.deps import CprAuditReader
from services.intake.schemas import AuditEntryOut, AuditPageOut
from services.intake.services.audit import audit_trail

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/audit",
    response_model=AuditPageOut,
    summary="Every read or write of a CPR number (admin; jobcenter and auditor for their programmes)",
)
async def get_audit(
    principal: CprAuditReader,
    db: DatabaseDep,
    programme_id: str | None = None,
    participant_id: Uuid | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPageOut:
    page = await audit_trail(db, principal, programme_id, participant_id, cursor, limit)
    return AuditPageOut(
        items=[
            AuditEntryOut(
                seq=entry.seq,
                at=entry.at,
                actor=entry.actor,
                role=entry.role,
                action=entry.action,
                endpoint=entry.endpoint,
                participant_id=entry.participant_id,
                correlation_id=entry.correlation_id,
                detail=entry.detail,
            )
            for entry in page.items
        ],
        next_cursor=page.next_cursor,
    )
