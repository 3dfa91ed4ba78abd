"""A citizen's right of access (GDPR art. 15): settlement's part, for intake's own identity only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from libs.common.auth import Principal, Role, require_roles
from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from libs.common.readaudit.api import reads_naming
from services.settlement.schemas.personal_data import PersonalDataOut
from services.settlement.services import personal_data as service

router = APIRouter(prefix="/v1", tags=["personal data"])

IntakeService = Annotated[Principal, Depends(require_roles(Role.intake_service))]


@router.get(
    "/participants/{participant_id}/personal-data",
    response_model=PersonalDataOut,
    summary="Everything settlement holds that names one participant (intake's service identity only: a "
    "citizen's right of access)",
)
async def get_personal_data(
    participant_id: Uuid, principal: IntakeService, db: DatabaseDep
) -> PersonalDataOut:
    found = await service.personal_data(db, principal, participant_id)
    return PersonalDataOut.model_validate(
        {
            "participant": found.participant,
            "status_records": found.status_records,
            "measurements": found.measurements,
            "months": found.months,
            "statement_lines": found.statement_lines,
            "disputes": found.disputes,
            "read_audit": await reads_naming(db, participant_id),
        },
        from_attributes=True,
    )
