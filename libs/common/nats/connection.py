"""The connection to NATS: how a service authenticates, and one link per service that keeps
reconnecting, so a service starts (and takes writes into its outbox) while NATS is down."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from libs.common.logging import get_logger
from libs.common.nats.client import SibNatsClient
from libs.common.nats.streams import ensure_stream
from libs.common.settings import CommonSettings

log = get_logger(__name__)


def connect_options(settings: CommonSettings) -> dict[str, Any]:
    """How to authenticate to NATS, as ``nats.connect`` keywords: a creds file, an nkey seed, or a
    user and password (the user defaults to the service's name), and TLS when asked for. Never part of
    the URL, which is logged."""
    options: dict[str, Any] = {"inbox_prefix": settings.resolved_nats_inbox_prefix}
    if settings.nats_creds_file is not None:
        options["user_credentials"] = str(settings.nats_creds_file)
    elif settings.nats_nkey_seed is not None:
        options["nkeys_seed_str"] = settings.nats_nkey_seed.get_secret_value()
    elif settings.nats_password is not None:
        options["user"] = settings.resolved_nats_user
        options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_tls_required:
        context = ssl.create_default_context(
            cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca is not None else None
        )
        if settings.nats_tls_cert is not None:
            context.load_cert_chain(
                str(settings.nats_tls_cert),
                str(settings.nats_tls_key) if settings.nats_tls_key is not None else None,
            )
        options["tls"] = context
    return options


class NatsLink:
    """One NATS connection per service; connects in the background and keeps reconnecting, so a
    service starts (and takes writes into its outbox) while NATS is down."""

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self.client: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def around(cls, js: JetStreamContext, settings: CommonSettings) -> NatsLink:
        """A link around a JetStream context connected elsewhere (operator commands, re-drive)."""
        link = cls(settings)
        link._js = js
        link.ready.set()
        return link

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("NATS is not connected yet")
        return self._js

    @property
    def is_connected(self) -> bool:
        return self.client is not None and self.client.is_connected and self.ready.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name="nats-connect")

    async def connect(self) -> None:
        """Connect once (raises if NATS does not answer) and make sure the stream exists."""
        options: dict[str, Any] = {
            "servers": [self.settings.nats_url],
            "name": f"sib-{self.settings.service_name}",
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.5,  # nats-py annotates an int; it sleeps this many seconds
            "connect_timeout": 2,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
        }
        client = SibNatsClient()
        await client.connect(**options, **connect_options(self.settings))
        self.client = client
        self._js = client.jetstream(timeout=5)
        await ensure_stream(self._js, self.settings)
        self.ready.set()
        log.info("nats_connected", url=self.settings.nats_url, stream=self.settings.nats_stream)

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.connect()
                return
            except Exception as exc:  # NATS down or not yet up: keep trying
                log.warning("nats_connect_failed", error=str(exc) or type(exc).__name__, retry_in=delay)
                if self.client is not None:
                    with contextlib.suppress(Exception):
                        await self.client.close()
                    self.client = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def wait_ready(self) -> JetStreamContext:
        await self.ready.wait()
        return self.js

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # The relay and consumers have stopped by now, so nothing is in flight: close rather than
        # drain, which waits out pull subscriptions' pending fetches.
        if self.client is not None and not self.client.is_closed:
            with contextlib.suppress(Exception):
                await self.client.close()
        self.ready.clear()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats_error", error=str(exc) or type(exc).__name__)

    async def _on_disconnected(self) -> None:
        log.warning("nats_disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats_reconnected")
