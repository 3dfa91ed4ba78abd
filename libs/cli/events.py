"""Follow the platform's events on NATS JetStream (the approach of ``docs/examples/subscriber.py``).

It connects as an integrator (read-only): NATS_USER (default ``integrator``) with NATS_PASSWORD, or
NATS_CREDS_FILE or NATS_NKEY_SEED, and NATS_TLS_CA for TLS, all from the environment.

An ordered consumer is ephemeral (the server forgets it when we go), acks nothing and so never
disturbs the services' durable consumers. Delivery is at least once, so events are de-duplicated by
their CloudEvent ``id``.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import nats
from nats.errors import NoServersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from libs.cli.client import EXIT_PROBLEM, EXIT_UNREACHABLE, fail
from libs.common.nats import connect_options
from libs.common.settings import CommonSettings, Environment

CONNECT_SECONDS = 10.0
SEEN_LIMIT = 100_000  # ids remembered for de-duplication (JetStream's duplicate window is shorter)


class _FirstConnectFailed(Exception):
    """The first connection to NATS failed."""


def integrator_options() -> dict[str, Any]:
    """The integrator's credentials from the environment, as ``nats.connect`` keywords (a client's
    settings: none of a service's production checks apply)."""
    settings = CommonSettings(service_name="integrator", sib_env=Environment.development)
    return connect_options(settings)


def event_line(event: dict[str, Any]) -> str:
    return f"{event.get('time')} {event.get('type')} {event.get('subject') or '-'} {event['id']}"


async def tail(
    *,
    nats_url: str,
    stream: str,
    subject: str,
    since: datetime | None,
    max_events: int | None,
    idle: float | None,
    emit: Callable[[str], None],
    warn: Callable[[str], None],
) -> int:
    """Print events until ``max_events`` were printed or none came for ``idle`` seconds; the count."""
    connected = False
    closing = False
    refused: list[bool] = []

    async def on_error(exc: Exception) -> None:
        # nats-py retries the first connection for ever; the first failure ends it here instead.
        # Once connected, reconnection is left to nats-py (an outage pauses the tail) and the
        # callbacks below say so briefly, without its tracebacks.
        if not connected:
            if "authorization" in str(exc).lower():
                refused.append(True)
            raise _FirstConnectFailed from exc

    async def disconnected() -> None:
        if connected and not closing:
            warn(f"lost the connection to NATS at {nats_url}; reconnecting")

    async def reconnected() -> None:
        warn(f"reconnected to NATS at {nats_url}")

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                nats_url,
                connect_timeout=5,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                error_cb=on_error,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                **integrator_options(),
            ),
            timeout=CONNECT_SECONDS,
        )
    except (_FirstConnectFailed, NoServersError, OSError, TimeoutError):
        if refused:
            fail(
                f"NATS at {nats_url} refused the credentials: set NATS_PASSWORD (user NATS_USER, default "
                "integrator) or NATS_CREDS_FILE",
                EXIT_PROBLEM,
            )
        fail(f"NATS at {nats_url} did not answer", EXIT_UNREACHABLE)
    connected = True
    try:
        if since is None:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
        else:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since)
        js = nc.jetstream()
        try:
            sub = await js.subscribe(subject, stream=stream, config=config, ordered_consumer=True)
        except NotFoundError:
            fail(f"Not found: no stream {stream} on NATS at {nats_url}", EXIT_PROBLEM)
        seen: OrderedDict[str, None] = OrderedDict()
        printed = 0
        try:
            while max_events is None or printed < max_events:
                try:
                    msg = await sub.next_msg(timeout=idle)
                except (NatsTimeout, TimeoutError):
                    break  # ``idle`` seconds without a message
                try:
                    event = json.loads(msg.data)
                    event_id = str(event["id"])
                except (ValueError, KeyError, TypeError):
                    warn(f"skipped a message on {msg.subject} that is not a CloudEvent")
                    continue
                if event_id in seen:
                    continue  # at-least-once delivery: the same event again
                seen[event_id] = None
                if len(seen) > SEEN_LIMIT:
                    seen.popitem(last=False)
                printed += 1
                emit(event_line(event))
        finally:
            await sub.unsubscribe()
        return printed
    finally:
        closing = True
        await nc.close()
