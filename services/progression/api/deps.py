"""Dependencies of progression's routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from libs.common.auth import (
    BearerCredentials,
    Principal,
    Role,
    check_role,
    principal_of,
    require_roles,
)
from services.progression.adapters import StatusWriter
from services.progression.services.context import Caller


async def get_caller(request: Request, credentials: BearerCredentials) -> Caller:
    principal = await principal_of(request, credentials)
    token = request.headers.get("authorization", "").partition(" ")[2]
    return Caller(principal, token)


async def get_status_writer(request: Request) -> StatusWriter:
    writer: StatusWriter = request.app.state.status_writer
    return writer


CallerDep = Annotated[Caller, Depends(get_caller)]
Jobcenter = Annotated[Principal, Depends(require_roles(Role.jobcenter))]
Provider = Annotated[Principal, Depends(require_roles(Role.provider))]
PersonLevelReader = Annotated[
    Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.admin, Role.auditor))
]
# A participant's raw status records: also settlement's service identity (gap repair).
RecordReader = Annotated[
    Principal,
    Depends(require_roles(Role.jobcenter, Role.provider, Role.admin, Role.auditor, Role.settlement_service)),
]

# A participant's personal data for a citizen's right-of-access export: intake's service identity only.
IntakeService = Annotated[Principal, Depends(require_roles(Role.intake_service))]


@dataclass(frozen=True, slots=True)
class JobcenterWrite:
    """What a jobcenter's status write needs, from one dependency: FastAPI's cost per request grows
    with the dependencies it solves (docs/performance.md#seventh-session-2026-12-03)."""

    caller: Caller
    writer: StatusWriter


_JOBCENTER = frozenset({Role.jobcenter})


async def get_jobcenter_write(request: Request, credentials: BearerCredentials) -> JobcenterWrite:
    """The same checks and values as ``Jobcenter`` and ``CallerDep`` together with the status writer,
    their getters called here rather than solved by FastAPI one by one."""
    principal = check_role(await principal_of(request, credentials), _JOBCENTER)
    assert credentials is not None  # principal_of has refused a request without one
    return JobcenterWrite(Caller(principal, credentials.credentials), await get_status_writer(request))


JobcenterWriteDep = Annotated[JobcenterWrite, Depends(get_jobcenter_write)]
