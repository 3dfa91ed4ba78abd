"""``erase-streams``: remove an erased participant's messages from the event stream and the dead letters.

Intake announces an erasure with ``participant.erased.v1`` (the participant id only). The eraser takes
those events from its durable consumer ``eraser``; for a batch of them it reads the stream ``SIB`` once
and the dead-letter stream once (an ephemeral consumer ``eraser-scan``, no acks, from the first
message) and deletes every message whose body or headers name one of the participants, in any
spelling of the UUID (JetStream overwrites a deleted message on disk). It keeps the accounting
records that name participants (``statement.lines.v1``, ``statement.issued.v1``: a statement must
still verify against its sha256) and the ``participant.erased.v1`` events themselves. Only then does
it ack the erasure events, so a run stopped half-way is done again in full by the next, which deletes
what is left and nothing else. Its NATS user ``eraser`` may do exactly this (deploy/nats_auth.py).

A service may still publish about the participant while it takes in the erasure (an outbox row not yet
sent: settlement's ``months.recalculated``, progression's ``status.recorded``). So an erasure event is
taken on only once every service durable that takes erasure events (``erasure_watchers``: progression's
and settlement's) has acked past it (its ack floor's stream sequence at or beyond the erasure event's):
by then the service has deleted its outbox rows naming the participant and refuses later events for it,
so nothing more about the participant comes from it. Until then the erasure event is ``waiting``: not
acked, given back to the eraser's consumer (nak) to be looked at again after a delay.

    python -m deploy.ops erase-streams --once          # the erasures pending now, then exit
    python -m deploy.ops erase-streams --every 60      # keep running, looking at least every 60 s
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import uuid
from collections.abc import Sequence
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from deploy.local import development_nats_credentials
from deploy.nats_auth import ERASER, erasure_watchers
from deploy.ops.erase_scan import (
    ACK_WAIT_SECONDS,
    FETCH_BATCH,
    KEPT_TYPES,
    ErasureReport,
    erase_from_stream,
    erase_participants,
    names_one_of,
)
from libs.common.contracts import ParticipantErasedV1
from libs.common.events import CloudEvent, origin_problem, subject_for
from libs.common.logging import get_logger
from libs.common.nats import connect_options
from libs.common.settings import CommonSettings

__all__ = [
    "KEPT_TYPES",
    "ErasureReport",
    "cmd_erase_streams",
    "erase_from_stream",
    "erase_participants",
    "eraser_settings",
    "names_one_of",
    "run_once",
]

log = get_logger(__name__)
# How long a waiting erasure event stays with the server before it is given to the eraser again. More
# than a fetch's wait (1 s) once a round has begun, so that a round ends.
WAITING_RETRY_SECONDS = 5.0


def eraser_consumer_config(settings: CommonSettings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=ERASER,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_SECONDS,
        max_deliver=-1,  # an erasure is never given up
        filter_subject=subject_for(ParticipantErasedV1.event_type, settings.subject_prefix),
        max_ack_pending=FETCH_BATCH,
    )


def erased_participant(msg: Msg, settings: CommonSettings) -> str | None:
    """The participant id an erasure event names, or None when it is no valid erasure event (then
    nothing is deleted on its account)."""
    try:
        event = CloudEvent.from_json_bytes(msg.data)
        payload = ParticipantErasedV1.model_validate(event.data)
        if event.type != ParticipantErasedV1.event_type:
            return None
        if origin_problem(msg.subject, event, settings.subject_prefix) is not None:
            return None
        return str(uuid.UUID(payload.participant_id))
    except ValueError:
        return None


async def acked_through(js: JetStreamContext, stream: str, watchers: Sequence[str]) -> tuple[int, list[str]]:
    """The stream sequence every watcher has acked through (its lowest ack floor; with no watchers,
    everything), and the watchers missing from the stream (then nothing: a service that has not made
    its consumer yet will still take every erasure event when it does)."""
    floor: int | None = None
    missing: list[str] = []
    for durable in watchers:
        try:
            info = await js.consumer_info(stream, durable)
        except NotFoundError:
            missing.append(durable)
            continue
        acked = int(info.ack_floor.stream_seq or 0) if info.ack_floor is not None else 0
        floor = acked if floor is None else min(floor, acked)
    if missing:
        return 0, missing
    return (floor if floor is not None else 2**63), missing


async def run_once(
    js: JetStreamContext,
    settings: CommonSettings,
    wait: float = 1.0,
    watchers: Sequence[str] | None = None,
    retry_in: float = WAITING_RETRY_SECONDS,
) -> ErasureReport:
    """The erasure events pending on the durable consumer (waiting up to ``wait`` seconds for the
    first), each batch erased with one read of each stream, then acked; those the ``watchers``
    (default: ``erasure_watchers()``) have not all acked yet are given back, to come again after
    ``retry_in`` seconds, and counted as waiting."""
    watching = erasure_watchers() if watchers is None else list(watchers)
    await js.add_consumer(settings.nats_stream, eraser_consumer_config(settings))
    subscription = await js.pull_subscribe_bind(ERASER, stream=settings.nats_stream)
    total = ErasureReport()
    timeout = wait
    waited: set[int] = set()  # stream sequences of the erasure events given back in this round
    while True:
        try:
            msgs: list[Msg] = await subscription.fetch(FETCH_BATCH, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            break
        timeout = 1.0
        floor, missing = await acked_through(js, settings.nats_stream, watching)
        waiting = [msg for msg in msgs if msg.metadata.sequence.stream > floor]
        msgs = [msg for msg in msgs if msg.metadata.sequence.stream <= floor]
        for msg in waiting:
            await msg.nak(delay=retry_in)
        newly_waiting = {msg.metadata.sequence.stream for msg in waiting} - waited
        waited |= newly_waiting
        if waiting:
            log.info(
                "erasures_waiting",
                count=len(waiting),
                first_stream_seq=min(msg.metadata.sequence.stream for msg in waiting),
                services_acked_through=floor,
                missing_consumers=missing,
                retry_in=retry_in,
            )
            if not msgs and not newly_waiting:
                break  # only erasure events given back earlier in this round: for the next round
        valid = [(msg, erased_participant(msg, settings)) for msg in msgs]
        ids = sorted({pid for _, pid in valid if pid is not None})

        async def keepalive(batch: list[Msg] = msgs) -> None:
            for msg in batch:
                await msg.in_progress()

        report = await erase_participants(js, settings, ids, keepalive) if msgs else ErasureReport()
        report.waiting = len(newly_waiting)
        for msg, pid in valid:
            if pid is None:
                report.refused += 1
                log.error("erasure_event_refused", stream_seq=msg.metadata.sequence.stream)
                await msg.term()
            else:
                await msg.ack_sync(timeout=5)
        log.info("streams_erased", **report.as_log())
        total.merge(report)
    with contextlib.suppress(Exception):
        await subscription.unsubscribe()
    return total


def eraser_settings() -> CommonSettings:
    """Settings from the environment, as the NATS user ``eraser`` (on a developer's machine with the
    password `make run` generated)."""
    if "NATS_USER" in os.environ or "NATS_CREDS_FILE" in os.environ or "NATS_NKEY_SEED" in os.environ:
        return CommonSettings(service_name=ERASER)
    overrides: dict[str, Any] = {"service_name": ERASER, "nats_user": ERASER}
    development = development_nats_credentials(ERASER)
    if development and "NATS_PASSWORD" not in os.environ:
        overrides["nats_password"] = development["NATS_PASSWORD"]
        if "NATS_URL" not in os.environ:
            overrides["nats_url"] = development["NATS_URL"]
    return CommonSettings(**overrides)


async def _connect(settings: CommonSettings) -> tuple[NatsClient, JetStreamContext]:
    client = await nats.connect(
        servers=[settings.nats_url],
        connect_timeout=5,
        name="sib-eraser",
        max_reconnect_attempts=-1,
        **connect_options(settings),
    )
    return client, client.jetstream(timeout=10)


async def cmd_erase_streams(settings: CommonSettings, every: float | None) -> int:
    """``--once`` (``every`` None): the pending erasures, a summary printed. ``--every``: for ever,
    a failed round logged and tried again after ``every`` seconds."""
    client, js = await _connect(settings)
    try:
        if every is None:
            report = await run_once(js, settings)
            print(json.dumps(report.as_log()))
            return 0
        # SIGTERM stops it between deletes at worst: the erasure events of that round stay unacked.
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, main.cancel)
        log.info("eraser_started", every_seconds=every, stream=settings.nats_stream)
        while True:
            try:
                await run_once(js, settings, wait=every, retry_in=max(every, WAITING_RETRY_SECONDS))
            except Exception as exc:
                log.warning("streams_erase_failed", error=str(exc) or type(exc).__name__, retry_in=every)
                await asyncio.sleep(every)
    except asyncio.CancelledError:
        log.info("eraser_stopped")
        return 0
    finally:
        await client.close()
