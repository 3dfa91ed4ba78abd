"""What the use cases need besides the database: who calls, and intake's API, which finds the citizens
a jobcenter names by CPR and the participants progression has not heard of yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from libs.common.auth import Principal
from libs.common.errors import ServiceUnavailable
from libs.common.logging import get_logger
from libs.common.oidc import OidcProvider, ServiceIdentity
from libs.common.tracing import inject
from services.progression.settings import ProgressionSettings

log = get_logger(__name__)

# The most CPR numbers intake's batch lookup takes in one call.
LOOKUP_BATCH_MAX = 10_000
# The most participant ids intake's batch read takes in one call.
READ_BATCH_MAX = 10_000
# A batch of up to 10,000 numbers or ids is given longer than the client's default for a single read.
LOOKUP_BATCH_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Caller:
    principal: Principal
    bearer_token: str


class IntakeDirectory:
    """Reads participants from intake over REST (a read, as the architecture allows between services):
    the citizens a jobcenter's status post names by CPR, and the participants whose statuses arrive
    before their events. Each is one call for a whole request."""

    def __init__(
        self, settings: ProgressionSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(base_url=settings.intake_url, timeout=5.0, transport=transport)
        # Progression's own identity (role progression-service): reads participants' non-CPR fields.
        self.provider = OidcProvider(settings)
        self.identity = ServiceIdentity(self.provider)

    def _headers(self, token: str) -> dict[str, str]:
        # The request's trace goes on into intake (W3C traceparent).
        return inject({"Authorization": f"Bearer {token}"})

    async def participants(self, participant_ids: Sequence[str]) -> list[dict[str, Any]]:
        """What intake says of these participants, without any CPR: one call to its batch read for all
        of them (one per 10,000 ids), made with progression's own identity. Those intake does not know
        are not in the answer. When intake cannot answer, the post gets a 503 to retry, not a 422 that
        would call its participants unknown."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(participant_ids), READ_BATCH_MAX):
            chunk = list(participant_ids[start : start + READ_BATCH_MAX])
            try:
                token = await self.identity.token()
                response = await self.client.post(
                    "/v1/participants/read-batch",
                    json={"participant_ids": chunk},
                    headers=self._headers(token),
                    timeout=LOOKUP_BATCH_TIMEOUT_SECONDS,
                )
            except (ServiceUnavailable, httpx.HTTPError) as exc:
                log.warning("intake_unreachable", error=type(exc).__name__)
                raise _intake_unavailable("the participants are") from None
            if response.status_code != 200:
                log.warning("intake_read_refused", status=response.status_code)
                raise _intake_unavailable("the participants are")
            found += response.json()["items"]
        return found

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
                raise _intake_unavailable("the CPR numbers are") from None
            if response.status_code != 200:
                log.warning("intake_lookup_refused", status=response.status_code)
                raise _intake_unavailable("the CPR numbers are")
            for item in response.json()["items"]:
                # An item intake refuses (an invalid number) cannot occur: progression checks each
                # number's form first. Were it to, the record is answered as naming no one.
                found[chunk[item["index"]]] = item.get("participants", [])
        return found

    async def close(self) -> None:
        await self.client.aclose()
        await self.provider.close()


def _intake_unavailable(what: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"Intake could not be asked who {what}; retry shortly.")
