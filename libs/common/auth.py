"""JWT bearer auth (PyJWT, HS256): a role and a programme scope per token.

Claims: ``sub``, ``role`` (one of :class:`Role`), ``programmes`` (programme ids the holder may act on;
``["*"]`` means every programme), ``iss``, ``aud``, ``iat``, ``exp``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.common.clock import utcnow
from libs.common.errors import Forbidden, Unauthorized
from libs.common.settings import CommonSettings

ALGORITHM = "HS256"
ALL_PROGRAMMES = "*"


class Role(StrEnum):
    jobcenter = "jobcenter"
    provider = "provider"
    investor = "investor"
    integrator = "integrator"
    admin = "admin"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    programmes: frozenset[str]

    def can_access(self, programme_id: str) -> bool:
        return self.role is Role.admin or ALL_PROGRAMMES in self.programmes or programme_id in self.programmes

    def require_programme(self, programme_id: str) -> None:
        if not self.can_access(programme_id):
            raise Forbidden("This token is not scoped to the programme.")


def issue_token(
    settings: CommonSettings,
    *,
    role: Role | str,
    programmes: Iterable[str] = (ALL_PROGRAMMES,),
    subject: str | None = None,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    role = Role(role)
    now = utcnow()
    claims = {
        "sub": subject or f"dev-{role.value}",
        "role": role.value,
        "programmes": sorted(set(programmes)),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


# Verified tokens, so a client's every request does not verify its token again: (secret, audience,
# issuer, token) -> (principal, expiry as a POSIX time). Only tokens that passed verification are kept,
# and an entry is used only before its token's exp.
_VERIFIED: OrderedDict[tuple[str, str, str, str], tuple[Principal, float]] = OrderedDict()
_VERIFIED_MAX = 4096


def decode_token(settings: CommonSettings, token: str) -> Principal:
    key = (settings.jwt_secret.get_secret_value(), settings.jwt_audience, settings.jwt_issuer, token)
    cached = _VERIFIED.get(key)
    if cached is not None and time.time() < cached[1]:
        return cached[0]
    principal, expires = _verify(settings, token)
    _VERIFIED[key] = (principal, expires)
    if len(_VERIFIED) > _VERIFIED_MAX:
        _VERIFIED.popitem(last=False)
    return principal


def _verify(settings: CommonSettings, token: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("The token is not valid.") from exc
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise Unauthorized("The token has no known role.") from exc
    programmes = claims.get("programmes", [])
    if not isinstance(programmes, list) or not all(isinstance(p, str) for p in programmes):
        raise Unauthorized("The token's programmes claim must be a list of programme ids.")
    principal = Principal(subject=str(claims["sub"]), role=role, programmes=frozenset(programmes))
    return principal, float(claims["exp"])


_bearer = HTTPBearer(auto_error=False, description="A JWT from `make token ROLE=... PROGRAMME=...`.")


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def principal_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller the bearer token names (401 without a valid one)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("A bearer token is required.")
    settings: CommonSettings = request.app.state.settings
    return decode_token(settings, credentials.credentials)


async def authenticate(request: Request, credentials: BearerCredentials) -> Principal:
    return principal_of(request, credentials)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def check_role(principal: Principal, allowed: frozenset[Role]) -> Principal:
    """The principal, if its role is one of these (403 otherwise)."""
    if principal.role not in allowed:
        raise Forbidden(
            f"The role {principal.role.value} may not do this; allowed: {', '.join(sorted(allowed))}."
        )
    return principal


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only the given roles through (403 otherwise)."""
    allowed = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        return check_role(principal, allowed)

    return dependency
