"""What the services take from an OpenID Connect provider: its discovery document, its signing keys
(JWKS, cached by key id and refreshed when a token names an unknown one), and tokens for the service's
own identity (OAuth 2.0 client credentials). PyJWT parses the keys; httpx fetches, off the event loop's
critical path and only when the cache misses.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt

from libs.common.errors import ServiceUnavailable
from libs.common.logging import get_logger
from libs.common.settings import CommonSettings

log = get_logger(__name__)


class ProviderUnreachable(ServiceUnavailable):
    def __init__(self, what: str) -> None:
        super().__init__(f"The identity provider's {what} cannot be fetched; try again shortly.")


class OidcProvider:
    """The provider named by the settings (OIDC_ISSUER, or JWKS_URL and OIDC_TOKEN_URL)."""

    def __init__(self, settings: CommonSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(timeout=5.0, transport=transport)
        self._discovery: dict[str, Any] | None = None

    async def _discovered(self, field: str) -> str:
        if self._discovery is None:
            url = self.settings.expected_issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                response = await self.client.get(url)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("oidc_discovery_failed", error=type(exc).__name__)
                raise ProviderUnreachable("discovery document") from exc
            if not isinstance(document, dict):
                raise ProviderUnreachable("discovery document")
            self._discovery = document
        value = self._discovery.get(field)
        if not isinstance(value, str):
            raise ProviderUnreachable(f"discovery document's {field}")
        return value

    async def jwks_url(self) -> str:
        return self.settings.jwks_url or await self._discovered("jwks_uri")

    async def token_url(self) -> str:
        return self.settings.oidc_token_url or await self._discovered("token_endpoint")

    async def close(self) -> None:
        await self.client.aclose()


class KeySet:
    """The provider's public keys by ``kid``."""

    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider
        self.settings = provider.settings
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``, fetching the set again when it is stale or the kid is new (at most
        every ``jwks_min_refresh_seconds``, so tokens with made-up kids cannot make us hammer the
        provider). None when the provider does not have it."""
        if self._fresh() and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid in self._keys and self._fresh():
                return self._keys[kid]
            since = None if self._fetched_at is None else time.monotonic() - self._fetched_at
            if since is None or since >= self.settings.jwks_min_refresh_seconds or not self._fresh():
                await self._fetch()
            return self._keys.get(kid)

    def _fresh(self) -> bool:
        return (
            self._fetched_at is not None
            and time.monotonic() - self._fetched_at < self.settings.jwks_refresh_seconds
        )

    async def _fetch(self) -> None:
        url = await self.provider.jwks_url()
        try:
            response = await self.provider.client.get(url)
            response.raise_for_status()
            document = response.json()
            keys = jwt.PyJWKSet.from_dict(document).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            log.warning("jwks_fetch_failed", error=type(exc).__name__)
            if self._keys:  # keep serving the keys we have; try again after the minimum interval
                self._fetched_at = time.monotonic() - self.settings.jwks_refresh_seconds
                return
            raise ProviderUnreachable("signing keys") from exc
        self._keys = {k.key_id: k for k in keys if k.key_id}
        self._fetched_at = time.monotonic()
        log.info("jwks_fetched", keys=len(self._keys))


class ServiceIdentity:
    """This service's own bearer token, from the provider's token endpoint with its client id and
    secret, kept until shortly before it expires."""

    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider
        self.settings = provider.settings
        self._token: str | None = None
        self._expires: float = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._token is not None and time.monotonic() < self._expires:
            return self._token
        async with self._lock:
            if self._token is not None and time.monotonic() < self._expires:
                return self._token
            secret = self.settings.oidc_client_secret
            if secret is None:
                raise ServiceUnavailable(
                    "This service has no identity of its own to call another with (OIDC_CLIENT_SECRET)."
                )
            url = await self.provider.token_url()
            try:
                response = await self.provider.client.post(
                    url,
                    data={"grant_type": "client_credentials"},
                    auth=(self.settings.resolved_client_id, secret.get_secret_value()),
                )
                response.raise_for_status()
                body = response.json()
                token = str(body["access_token"])
                lifetime = float(body.get("expires_in", 60))
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("service_token_failed", error=type(exc).__name__)
                raise ProviderUnreachable("token endpoint") from exc
            self._token = token
            # Renewed a fifth of its lifetime early, so a token never expires in flight.
            self._expires = time.monotonic() + lifetime * 0.8
            return token

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}
