"""What the use cases need besides the database: who calls, the pseudonym key, and intake's API for
participants progression has not heard of yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from libs.common.auth import Principal
from libs.common.errors import ServiceUnavailable
from libs.common.logging import CORRELATION_HEADER, get_correlation_id, get_logger
from libs.common.oidc import OidcProvider, ServiceIdentity
from services.progression.settings import ProgressionSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class Caller:
    principal: Principal
    bearer_token: str


class IntakeDirectory:
    """Reads participants from intake over REST: only for a status that arrives before the
    participant's event (a read, as the architecture allows between services)."""

    def __init__(
        self, settings: ProgressionSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(base_url=settings.intake_url, timeout=5.0, transport=transport)
        # Progression's own identity (role progression-service): reads a participant's non-CPR fields.
        self.provider = OidcProvider(settings)
        self.identity = ServiceIdentity(self.provider)

    def _headers(self, token: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"}
        if correlation_id := get_correlation_id():
            headers[CORRELATION_HEADER] = correlation_id
        return headers

    async def participant(self, participant_id: str) -> dict[str, Any] | None:
        """The participant without any CPR (read as a service, which sees the masked form only)."""
        try:
            token = await self.identity.token()
            response = await self.client.get(
                f"/v1/participants/{participant_id}", headers=self._headers(token)
            )
        except ServiceUnavailable as exc:
            log.warning("intake_unreachable", error=type(exc).__name__)
            return None
        except httpx.HTTPError as exc:
            log.warning("intake_unreachable", error=type(exc).__name__)
            return None
        if response.status_code != 200:
            return None
        data: dict[str, Any] = response.json()
        return data

    async def lookup(self, cpr: str, caller: Caller) -> list[dict[str, Any]]:
        """A jobcenter's CPR-based post: ask intake with the jobcenter's own token, so intake's audit
        names the jobcenter and its scope applies."""
        try:
            response = await self.client.post(
                "/v1/participants/lookup", json={"cpr": cpr}, headers=self._headers(caller.bearer_token)
            )
        except httpx.HTTPError as exc:
            log.warning("intake_unreachable", error=type(exc).__name__)
            return []
        if response.status_code != 200:
            return []
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def close(self) -> None:
        await self.client.aclose()
        await self.provider.close()
