"""The other services' parts of a citizen's right-of-access export, asked for with intake's own
identity (client ``sib-intake``, role ``intake-service``): never with the caller's token, never with a
minted admin token. Only participant ids travel; no CPR number leaves intake."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from libs.common.errors import ServiceUnavailable
from libs.common.logging import get_logger
from libs.common.oidc import OidcProvider, ServiceIdentity
from libs.common.tracing import inject
from services.intake.settings import IntakeSettings

log = get_logger(__name__)

# A participant's part is one read per service; a slow service is reported, not waited for.
PART_TIMEOUT_SECONDS = 15.0


class PeerUnavailable(ServiceUnavailable):
    def __init__(self, service: str) -> None:
        super().__init__(
            f"The {service} service did not give its part of the export; nothing was exported. Retry "
            "shortly.",
            service=service,
        )


class PersonalDataSources:
    """Progression's and settlement's ``GET /v1/participants/{id}/personal-data``."""

    def __init__(
        self,
        settings: IntakeSettings,
        transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        transports = transports or {}
        self.clients = {
            name: httpx.AsyncClient(
                base_url=url, timeout=PART_TIMEOUT_SECONDS, transport=transports.get(name)
            )
            for name, url in (
                ("progression", settings.progression_url),
                ("settlement", settings.settlement_url),
            )
        }
        self.provider = OidcProvider(settings)
        self.identity = ServiceIdentity(self.provider)

    async def part(self, service: str, participant_id: str) -> dict[str, Any] | None:
        """What ``service`` holds about the participant; None when it holds nothing (404: it has not
        heard of the participant). Any other answer, or none, is a 503 naming the service."""
        try:
            token = await self.identity.token()
            response = await self.clients[service].get(
                f"/v1/participants/{participant_id}/personal-data",
                # The request's trace goes on into the other service (W3C traceparent).
                headers=inject({"Authorization": f"Bearer {token}"}),
            )
        except (ServiceUnavailable, httpx.HTTPError) as exc:
            log.warning("personal_data_part_unreachable", service=service, error=type(exc).__name__)
            raise PeerUnavailable(service) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.warning("personal_data_part_refused", service=service, status=response.status_code)
            raise PeerUnavailable(service)
        try:
            part = response.json()
        except ValueError:
            part = None
        if not isinstance(part, dict):
            log.warning("personal_data_part_refused", service=service, status=response.status_code)
            raise PeerUnavailable(service)
        return part

    async def parts(self, participant_id: str) -> dict[str, dict[str, Any] | None]:
        """Every other service's part, asked at once; the first that fails fails the whole."""
        names = list(self.clients)
        answers = await asyncio.gather(*(self.part(n, participant_id) for n in names), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        return {n: a for n, a in zip(names, answers, strict=True) if not isinstance(a, BaseException)}

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        await self.provider.close()
