"""Bearer tokens from an OpenID Connect provider, verified against its JWKS: a role, a programme scope
and a subject per token.

The services never sign a token. Policy: an asymmetric signature (ES256 or EdDSA) by a key the
provider publishes; ``iss`` the configured issuer; ``aud`` naming this service; ``exp``, ``iat`` and
``sub`` present; a lifetime (``exp - iat``) of at most ``TOKEN_MAX_LIFETIME``. The claims that carry the
role and the programmes, and the mapping of the provider's role names, are settings. The ``"*"``
programme scope is honoured only for ``admin`` and the service identities; anyone else holding it is
scoped to nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.common.errors import Forbidden, Unauthorized
from libs.common.oidc import KeySet, OidcProvider
from libs.common.settings import CommonSettings

ALL_PROGRAMMES = "*"


class Role(StrEnum):
    jobcenter = "jobcenter"
    provider = "provider"
    investor = "investor"
    # The municipality's finance officers: approve statements (never their own), record payments.
    finance = "finance"
    integrator = "integrator"
    admin = "admin"
    # Reads what the jobcenter reads in its programmes, CPR numbers masked, and the read audit; writes
    # nothing and has no operator routes.
    auditor = "auditor"
    # The services' own identities: each may make exactly the calls the architecture has.
    progression_service = "progression-service"
    settlement_service = "settlement-service"
    intake_service = "intake-service"


# The only methods the auditor may use.
READ_METHODS = frozenset({"GET", "HEAD"})
SERVICE_ROLES = frozenset({Role.progression_service, Role.settlement_service, Role.intake_service})
# Roles whose tokens may hold every programme ("*").
ALL_PROGRAMME_ROLES = SERVICE_ROLES | {Role.admin}
# The service clients an identity provider registers (client id -> role, audiences it may call).
SERVICE_CLIENTS: dict[str, tuple[Role, tuple[str, ...]]] = {
    "sib-progression": (Role.progression_service, ("sib-intake",)),
    "sib-settlement": (Role.settlement_service, ("sib-progression",)),
    # A citizen's right of access: intake gathers progression's and settlement's parts.
    "sib-intake": (Role.intake_service, ("sib-progression", "sib-settlement")),
}


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


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class TokenVerifier:
    """Verifies bearer tokens for one service; verified tokens are kept until they expire, so a
    client's every request does not verify its token again."""

    CACHE_SIZE = 4096

    def __init__(self, settings: CommonSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.provider = OidcProvider(settings, transport)
        self.keys = KeySet(self.provider)
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        principal, expires = await self._verify(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("The token is not valid.") from exc
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in settings.token_algorithms:
            raise Unauthorized("The token is not signed with an accepted algorithm.")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("The token names no signing key (kid).")
        key = await self.keys.key(kid)
        if key is None:
            raise Unauthorized("The token is signed by a key the identity provider does not publish.")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=settings.resolved_token_audience,
                issuer=settings.expected_issuer,
                leeway=settings.token_leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("The token is not meant for this service (aud).") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("The token is not valid.") from exc
        try:
            lifetime = float(claims["exp"]) - float(claims["iat"])
        except (TypeError, ValueError) as exc:
            raise Unauthorized("The token's exp and iat must be numbers.") from exc
        if lifetime > settings.token_max_lifetime.total_seconds():
            raise Unauthorized("The token's lifetime is longer than this service accepts.")
        role = self._role(claims)
        programmes = _claim(claims, settings.token_programmes_claim)
        if programmes is None:
            programmes = []
        if not isinstance(programmes, list) or not all(isinstance(p, str) for p in programmes):
            raise Unauthorized("The token's programmes claim must be a list of programme ids.")
        scope = frozenset(programmes)
        if ALL_PROGRAMMES in scope and role not in ALL_PROGRAMME_ROLES:
            scope = scope - {ALL_PROGRAMMES}
        return Principal(subject=str(claims["sub"]), role=role, programmes=scope), float(claims["exp"])

    def _role(self, claims: dict[str, Any]) -> Role:
        value = _claim(claims, self.settings.token_role_claim)
        names = value if isinstance(value, list) else [value]
        mapping = self.settings.token_role_map
        roles = set()
        for name in names:
            if not isinstance(name, str):
                continue
            mapped = mapping.get(name, name if not mapping else None)
            if mapped is not None and mapped in Role._value2member_map_:
                roles.add(Role(mapped))
        if len(roles) != 1:
            raise Unauthorized("The token must carry exactly one known role.")
        return roles.pop()

    async def close(self) -> None:
        await self.provider.close()


_bearer = HTTPBearer(
    auto_error=False, description="A JWT from the identity provider (`make token ROLE=...`)."
)


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def principal_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller the bearer token names (401 without a valid one)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(credentials.credentials)
    if principal.role is Role.auditor and request.method not in READ_METHODS:
        # Held here, for every route at once: a route that forgets the auditor cannot let it write.
        raise Forbidden("The auditor reads only; it may make no POST, PUT, PATCH or DELETE.")
    return principal


async def authenticate(request: Request, credentials: BearerCredentials) -> Principal:
    """Any person's token (a route open to every role); service identities are refused here and may
    make only the calls that name their role in ``require_roles``."""
    principal = await principal_of(request, credentials)
    if principal.role in SERVICE_ROLES:
        raise Forbidden(f"The service identity {principal.role.value} may not make this call.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def check_role(principal: Principal, allowed: frozenset[Role]) -> Principal:
    """The principal, if its role is one of these (403 otherwise)."""
    if principal.role not in allowed:
        raise Forbidden(
            f"The role {principal.role.value} may not do this; allowed: {', '.join(sorted(allowed))}."
        )
    return principal


def require_roles(
    *roles: Role,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A dependency that lets only the given roles through (403 otherwise)."""
    allowed = frozenset(roles)

    async def dependency(request: Request, credentials: BearerCredentials) -> Principal:
        return check_role(await principal_of(request, credentials), allowed)

    return dependency
