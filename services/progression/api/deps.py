"""Dependencies of progression's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.common.auth import CurrentPrincipal, Principal, Role, require_roles
from services.progression.services.context import Caller, IntakeDirectory


async def get_caller(request: Request, principal: CurrentPrincipal) -> Caller:
    token = request.headers.get("authorization", "").partition(" ")[2]
    return Caller(principal, token)


async def get_directory(request: Request) -> IntakeDirectory:
    directory: IntakeDirectory = request.app.state.intake_directory
    return directory


async def get_pseudonym_key(request: Request) -> bytes:
    return request.app.state.settings.cpr_hmac_key.get_secret_value().encode()  # type: ignore[no-any-return]


CallerDep = Annotated[Caller, Depends(get_caller)]
Directory = Annotated[IntakeDirectory, Depends(get_directory)]
PseudonymKey = Annotated[bytes, Depends(get_pseudonym_key)]
Jobcenter = Annotated[Principal, Depends(require_roles(Role.jobcenter))]
Provider = Annotated[Principal, Depends(require_roles(Role.provider))]
PersonLevelReader = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.admin))]
