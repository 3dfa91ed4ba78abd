"""Dependencies of intake's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.common.auth import BearerCredentials, Principal, Role, principal_of, require_roles
from services.intake.services.protection import Caller, CprProtection


async def get_protection(request: Request) -> CprProtection:
    protection: CprProtection = request.app.state.cpr_protection
    return protection


async def get_caller(request: Request, credentials: BearerCredentials) -> Caller:
    principal = await principal_of(request, credentials)
    route = request.scope.get("route")
    return Caller(principal, f"{request.method} {getattr(route, 'path', request.url.path)}")


Protection = Annotated[CprProtection, Depends(get_protection)]
CallerDep = Annotated[Caller, Depends(get_caller)]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
Jobcenter = Annotated[Principal, Depends(require_roles(Role.jobcenter))]
JobcenterOrAdmin = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.admin))]
JobcenterOrProvider = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.provider))]
PersonLevelReader = Annotated[
    Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.admin, Role.auditor))
]
# One participant's non-CPR fields: also progression's service identity (a status that overtakes the
# participant's events).
ParticipantReader = Annotated[
    Principal,
    Depends(require_roles(Role.jobcenter, Role.provider, Role.admin, Role.auditor, Role.progression_service)),
]
# The batch read is a POST: not the auditor, who makes none.
ParticipantBatchReader = Annotated[
    Principal,
    Depends(require_roles(Role.jobcenter, Role.provider, Role.admin, Role.progression_service)),
]
# The CPR audit: the jobcenter (its programmes), the auditor, the operator.
CprAuditReader = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.auditor, Role.admin))]
# A programme's parties: the jobcenter and admin publish them; every person role but the integrator reads.
PartiesWriter = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.admin))]
PartiesReader = Annotated[
    Principal,
    Depends(
        require_roles(Role.jobcenter, Role.finance, Role.provider, Role.investor, Role.admin, Role.auditor)
    ),
]
