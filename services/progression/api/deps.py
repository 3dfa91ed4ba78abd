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
from libs.common.db import Database
from libs.common.deps import get_database
from services.progression.services.context import Caller, IntakeDirectory


async def get_caller(request: Request, credentials: BearerCredentials) -> Caller:
    principal = await principal_of(request, credentials)
    token = request.headers.get("authorization", "").partition(" ")[2]
    return Caller(principal, token)


async def get_directory(request: Request) -> IntakeDirectory:
    directory: IntakeDirectory = request.app.state.intake_directory
    return directory


async def get_fingerprint_key(request: Request) -> bytes:
    return request.app.state.settings.request_fingerprint_key.get_secret_value().encode()  # type: ignore[no-any-return]


CallerDep = Annotated[Caller, Depends(get_caller)]
Directory = Annotated[IntakeDirectory, Depends(get_directory)]
FingerprintKey = Annotated[bytes, Depends(get_fingerprint_key)]
Jobcenter = Annotated[Principal, Depends(require_roles(Role.jobcenter))]
Provider = Annotated[Principal, Depends(require_roles(Role.provider))]
PersonLevelReader = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.admin))]
# A participant's raw status records: also settlement's service identity (gap repair).
RecordReader = Annotated[
    Principal,
    Depends(require_roles(Role.jobcenter, Role.provider, Role.admin, Role.settlement_service)),
]


@dataclass(frozen=True, slots=True)
class JobcenterWrite:
    """What a jobcenter's status write needs, from one dependency: FastAPI's cost per request grows
    with the dependencies it solves (a single POST spent 18 % of its CPU solving nine)."""

    caller: Caller
    database: Database
    directory: IntakeDirectory
    fingerprint_key: bytes


_JOBCENTER = frozenset({Role.jobcenter})


async def get_jobcenter_write(request: Request, credentials: BearerCredentials) -> JobcenterWrite:
    """The same checks and values as ``Jobcenter``, ``CallerDep``, ``DatabaseDep``, ``Directory`` and
    ``FingerprintKey`` together, their getters called here rather than solved by FastAPI one by one."""
    principal = check_role(await principal_of(request, credentials), _JOBCENTER)
    assert credentials is not None  # principal_of has refused a request without one
    return JobcenterWrite(
        Caller(principal, credentials.credentials),
        await get_database(request),
        await get_directory(request),
        await get_fingerprint_key(request),
    )


JobcenterWriteDep = Annotated[JobcenterWrite, Depends(get_jobcenter_write)]
