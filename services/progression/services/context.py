"""What the use cases need besides the database: who calls, and intake's API, which finds the citizens
a jobcenter names by CPR and the participants progression has not heard of yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from libs.common.auth import Principal
from libs.common.errors import ServiceUnavailable
from libs.common.logging import CORRELATION_HEADER, get_correlation_id, get_logger
from libs.common.oidc import OidcProvider, ServiceIdentity
from services.progression.settings import ProgressionSettings

log = get_logger(__name__)

# The most CPR numbers intake's batch lookup takes in one call.
LOOKUP_BATCH_MAX = 10_000
# A batch lookup of up to 10,000 numbers is given longer than the client's default for a single read.
LOOKUP_BATCH_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Caller:
    principal: Principal
    bearer_token: str


class IntakeDirectory:
    """Reads participants from intake over REST (a read, as the architecture allows between services):
    the citizens a jobcenter's status post names by CPR, and a participant whose status arrives before
    the participant's event."""

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

    async def lookup_cprs(self, cprs: Sequence[str], caller: Caller) -> dict[str, list[dict[str, Any]]]:
        """Who each CPR is, in the caller's programmes: intake's participations per number (an empty
        list when none). A jobcenter's CPR-based post asks with the jobcenter's own token, so intake's
        audit names the jobcenter and its scope applies; all the numbers of a request go in one call
        (one per 10,000). The numbers travel in the body only, and nothing here logs them. When intake
        cannot answer, the post gets a 503 to retry, not a 422 that would call its citizens unknown."""
        found: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(cprs), LOOKUP_BATCH_MAX):
            chunk = list(cprs[start : start + LOOKUP_BATCH_MAX])
            try:
                response = await self.client.post(
                    "/v1/participants/lookup-batch",
                    json={"cprs": chunk},
                    headers=self._headers(caller.bearer_token),
                    timeout=LOOKUP_BATCH_TIMEOUT_SECONDS,
                )
            except httpx.HTTPError as exc:
                log.warning("intake_unreachable", error=type(exc).__name__)
                raise _intake_unavailable() from None
            if response.status_code != 200:
                log.warning("intake_lookup_refused", status=response.status_code)
                raise _intake_unavailable()
            for item in response.json()["items"]:
                # An item intake refuses (an invalid number) cannot occur: progression checks each
                # number's form first. Were it to, the record is answered as naming no one.
                found[chunk[item["index"]]] = item.get("participants", [])
        return found

    async def close(self) -> None:
        await self.client.aclose()
        await self.provider.close()


def _intake_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("Intake could not be asked who the CPR numbers are; retry shortly.")
