"""NATS authentication and permissions as deploy/nats_auth.py configures them, on a real nats-server:
who may connect, publish which events, plant dead letters, and touch the streams; and that a consumer
takes an event only from the subject its type and source belong on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.errors import NoServersError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from deploy.nats_auth import erasure_watchers
from deploy.ops import rebuild, service_ops
from libs.common.auth import Role
from libs.common.contracts import CutoffAdvancedV1, ParticipantErasedV1, StatusRecordedV1
from libs.common.deadletters import list_dead_letters, redrive
from libs.common.events import CloudEvent, new_event, subject_for
from libs.common.nats import (
    DL_CONSUMER,
    DL_EVENT_TYPE,
    DL_SERVICE,
    DL_SUBJECT,
    MSG_ID_HEADER,
    connect_options,
    ensure_stream,
)
from libs.common.settings import CommonSettings
from services.settlement.handlers import CONSUMERS as SETTLEMENT_CONSUMERS
from services.settlement.settings import SettlementSettings
from tests.integration.conftest import Trio, auth, eventually
from tests.integration.test_rebuild_and_gaps import settlement_caught_up
from tests.integration.test_settlement import PROGRAMME, cutoff, enrol, months, status, wait_for_fee

STREAM = "SIB"


@asynccontextmanager
async def connected(nats_url: str, user: str, violations: list[str] | None = None) -> AsyncIterator[Client]:
    """A client of ``user``; the server's permission errors (asynchronous in NATS) go to ``violations``."""

    async def on_error(exc: Exception) -> None:
        if violations is not None:
            violations.append(str(exc))

    settings = CommonSettings(service_name=user, nats_url=nats_url)
    client = await nats.connect(
        nats_url, error_cb=on_error, allow_reconnect=False, **connect_options(settings)
    )
    try:
        yield client
    finally:
        await client.close()


async def stream_count(nats_url: str, stream: str = STREAM) -> int:
    async with connected(nats_url, "operator") as client:
        info = await client.jetstream().stream_info(stream)
        return int(info.state.messages)


def cutoff_event(source: str | None = None, event_type: str | None = None) -> CloudEvent:
    event = new_event(
        CutoffAdvancedV1(
            programme_id=PROGRAMME,
            complete_through=date(2099, 12, 31),
            previous=None,
            recorded_at=datetime.now(UTC),
        )
    )
    changes: dict[str, Any] = {}
    if source is not None:
        changes["source"] = source
    if event_type is not None:
        changes["type"] = event_type
    return event.model_copy(update=changes)


async def publish_refused(client: Client, subject: str, data: bytes, violations: list[str]) -> None:
    """A publish the server refuses: JetStream never acks it, and the server reports a violation."""
    with pytest.raises((nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError)):
        await client.jetstream(timeout=1).publish(subject, data, headers={MSG_ID_HEADER: subject})
    await eventually(lambda: _true(any("permissions violation" in v.lower() for v in violations)), timeout=5)


async def _true(value: bool) -> bool:
    return value


@pytest.fixture
async def with_stream(nats_url: str) -> str:
    async with connected(nats_url, "intake") as client:
        await ensure_stream(client.jetstream(), CommonSettings(nats_url=nats_url))
    return nats_url


async def test_no_credentials_or_a_wrong_password_are_refused(nats_url: str) -> None:
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(nats_url, allow_reconnect=False, connect_timeout=2)
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(
            nats_url, user="settlement", password="guessed", allow_reconnect=False, connect_timeout=2
        )
    async with connected(nats_url, "settlement") as client:  # the right password gets in
        assert client.is_connected


async def test_an_integrator_publishes_nothing_on_the_event_or_dead_letter_subjects(with_stream: str) -> None:
    violations: list[str] = []
    event = cutoff_event()
    async with connected(with_stream, "integrator", violations) as client:
        await publish_refused(client, "sib.progression.status.recorded.v1", event.to_json_bytes(), violations)
        await publish_refused(client, "sib.progression.cutoff.advanced.v1", event.to_json_bytes(), violations)
        await publish_refused(
            client, "sib-dlq.settlement.settlement-facts", event.to_json_bytes(), violations
        )
    assert await stream_count(with_stream) == 0
    assert await stream_count(with_stream, "SIB_DLQ") == 0


async def test_a_service_publishes_only_its_own_events_and_dead_letters_and_uses_only_its_consumers(
    with_stream: str,
) -> None:
    violations: list[str] = []
    async with connected(with_stream, "progression", violations) as client:
        js = client.jetstream(timeout=2)
        own = cutoff_event()
        await js.publish(subject_for(own.type, "sib"), own.to_json_bytes(), headers={MSG_ID_HEADER: own.id})
        await publish_refused(client, "sib.settlement.statement.issued.v1", b"{}", violations)
        await publish_refused(client, "sib.intake.programme.terms_published.v1", b"{}", violations)
        await publish_refused(client, "sib-dlq.settlement.settlement-facts", b"{}", violations)
        # Of the JetStream API, its own consumers only: not settlement's (by either API form), nor an
        # ephemeral one or a durable of a name of its own making.
        for config in (
            ConsumerConfig(durable_name="settlement-facts"),
            ConsumerConfig(name="settlement-facts", durable_name="settlement-facts"),
            ConsumerConfig(durable_name="progression-made-up"),
            ConsumerConfig(),
        ):
            with pytest.raises(nats.errors.TimeoutError):
                await js.add_consumer(STREAM, config)
    assert await stream_count(with_stream) == 1


@pytest.mark.parametrize("user", ["intake", "progression", "settlement", "integrator"])
async def test_nobody_but_the_operator_purges_or_deletes_the_stream(with_stream: str, user: str) -> None:
    async with connected(with_stream, "progression") as client:
        event = cutoff_event()
        await client.jetstream().publish(
            subject_for(event.type, "sib"), event.to_json_bytes(), headers={MSG_ID_HEADER: event.id}
        )
    violations: list[str] = []
    async with connected(with_stream, user, violations) as client:
        js = client.jetstream(timeout=1)
        with pytest.raises(nats.errors.TimeoutError):
            await js.purge_stream(STREAM)
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_stream(STREAM)
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_stream("SIB_DLQ")
        with pytest.raises(TimeoutError):  # nor a single message of the event stream (never answered)
            await asyncio.wait_for(js.delete_msg(STREAM, 1), timeout=0.5)
    assert any("permissions violation" in v.lower() for v in violations), violations
    assert await stream_count(with_stream) == 1
    async with connected(with_stream, "operator") as client:  # the operator tool can
        await client.jetstream().purge_stream(STREAM)
    assert await stream_count(with_stream) == 0


async def test_the_eraser_deletes_single_messages_and_publishes_purges_and_takes_over_nothing(
    with_stream: str,
) -> None:
    async with connected(with_stream, "progression") as client:
        js = client.jetstream()
        for _ in range(2):
            event = cutoff_event()
            await js.publish(
                subject_for(event.type, "sib"), event.to_json_bytes(), headers={MSG_ID_HEADER: event.id}
            )
    violations: list[str] = []
    async with connected(with_stream, "eraser", violations) as client:
        js = client.jetstream(timeout=0.3)  # a refused request is never answered: short waits
        assert await client.jetstream().delete_msg(STREAM, 1)
        erased = new_event(ParticipantErasedV1(participant_id=str(uuid.uuid4())))
        await publish_refused(client, subject_for(erased.type, "sib"), erased.to_json_bytes(), violations)
        await publish_refused(client, "sib-dlq.intake.intake-statements", b"{}", violations)
        with pytest.raises(nats.errors.TimeoutError):
            await js.purge_stream(STREAM)
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_stream("SIB_DLQ")
        with pytest.raises(nats.errors.TimeoutError):  # reading a message by number is not its way
            await js.get_msg(STREAM, 2)
        # No consumer but its own durable and its scan consumer: not a service's, not one of another name.
        for config in (
            ConsumerConfig(durable_name="settlement-facts"),
            ConsumerConfig(name="eraser-made-up"),
            ConsumerConfig(),
        ):
            with pytest.raises(nats.errors.TimeoutError):
                await js.add_consumer(STREAM, config)
        # Of the services' consumers it reads the info of those taking erasure events, and no other.
        with pytest.raises(nats.errors.TimeoutError):
            await js.consumer_info(STREAM, "settlement-programmes")
        allowed = client.jetstream()
        for durable in erasure_watchers():
            with pytest.raises(NotFoundError):  # answered: allowed, and not made yet
                await allowed.consumer_info(STREAM, durable)
        await allowed.add_consumer(STREAM, ConsumerConfig(name="eraser-scan", ack_policy=AckPolicy.NONE))
        await allowed.add_consumer("SIB_DLQ", ConsumerConfig(name="eraser-scan", ack_policy=AckPolicy.NONE))
    assert await stream_count(with_stream) == 1


async def test_an_integrator_reads_with_consumers_of_its_own_and_cannot_touch_the_services(
    with_stream: str,
) -> None:
    async with connected(with_stream, "progression") as client:
        event = cutoff_event()
        await client.jetstream().publish(
            subject_for(event.type, "sib"), event.to_json_bytes(), headers={MSG_ID_HEADER: event.id}
        )
    violations: list[str] = []
    async with connected(with_stream, "integrator", violations) as client:
        js = client.jetstream(timeout=2)
        durable = await js.pull_subscribe("sib.>", durable="erp-bridge", stream=STREAM)
        (msg,) = await durable.fetch(1, timeout=5)
        assert CloudEvent.from_json_bytes(msg.data).id == event.id
        await msg.ack()
        replay = await js.subscribe(
            "sib.>",
            stream=STREAM,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        assert CloudEvent.from_json_bytes((await replay.next_msg(timeout=5)).data).id == event.id
        await replay.unsubscribe()
        # The services' durable consumers are not the integrators' to create, change, read or delete.
        with pytest.raises(nats.errors.TimeoutError):
            await js.add_consumer(STREAM, ConsumerConfig(durable_name="settlement-facts"))
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_consumer(STREAM, "settlement-facts")
    assert any("permissions violation" in v.lower() for v in violations), violations


async def test_a_forged_event_on_a_subject_is_dead_lettered_and_changes_no_month(trio: Trio) -> None:
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-05-31")
    await wait_for_fee(trio, pid, "2024-05", "3500.00")
    before = await months(trio, pid)
    settings: SettlementSettings = trio.settlement.app.state.settings
    nats_url = settings.nats_url
    # Progression's own user publishes on its own subjects, so NATS lets these through; what they
    # carry is not progression's: a source of another service, and a type of another subject.
    sick = new_event(
        StatusRecordedV1(
            record_id="forged-1",
            participant_id=pid,
            programme_id=PROGRAMME,
            code="sygedagpenge",
            category="public_support",
            valid_from=date(2024, 3, 1),
            valid_to=None,
            recording_seq=99,
            recorded_at=datetime.now(UTC),
        )
    ).model_copy(update={"source": "/sib/settlement"})
    wrong_type = cutoff_event()  # a cut-off to 2099, on the status subject
    async with connected(nats_url, "progression") as client:
        js = client.jetstream()
        for forged in (sick, wrong_type):
            await js.publish(
                "sib.progression.status.recorded.v1",
                forged.to_json_bytes(),
                headers={MSG_ID_HEADER: forged.id},
            )
        await js.publish(
            "sib.progression.cutoff.advanced.v1",
            cutoff_event(source="/sib/intake").to_json_bytes(),
            headers={MSG_ID_HEADER: "forged-cutoff"},
        )
    async with connected(nats_url, "settlement") as client:
        js = client.jetstream()

        async def three_letters() -> bool:
            return len(await list_dead_letters(js, settings)) == 3

        await eventually(three_letters, timeout=20)
        letters = await list_dead_letters(js, settings)
        errors = sorted(letter.error for letter in letters)
        assert sum("the source /sib/settlement is not progression" in e for e in errors) == 1
        assert sum("the source /sib/intake is not progression" in e for e in errors) == 1
        assert (
            sum("does not belong on the subject sib.progression.status.recorded.v1" in e for e in errors) == 1
        )
        assert await months(trio, pid) == before
        # Re-driving cannot apply them either.
        results = await redrive(trio.settlement.app.state.database, js, SETTLEMENT_CONSUMERS)
        assert {r.outcome for r in results} == {"refused"}
    assert await months(trio, pid) == before
    ok = await trio.settlement.get(f"/v1/participants/{pid}/months", headers=auth(Role.admin))
    assert ok.status_code == 200
    # A rebuild from the stream, where they stay, skips them as the live consumer refused them.
    await settlement_caught_up(trio)
    stats, report = await rebuild(
        service_ops("settlement"), settings.model_copy(update={"nats_user": "operator"})
    )
    assert stats.skipped == 3 and stats.applied == stats.events - 3 > 0
    for table, counts in report.items():
        assert counts["only_live"] == counts["only_rebuilt"] == 0, (table, counts)


async def test_redrive_applies_no_letter_another_service_wrote(
    nats_url: str, database: dict[str, Any]
) -> None:
    """Only settlement's user can publish on sib-dlq.settlement.>; a letter there whose headers name
    another service, or whose event does not belong on the subject it names, is refused."""
    from services.settlement.main import create_app
    from tests.integration.conftest import running

    settings = SettlementSettings(sib_env="test", nats_url=nats_url, **database)
    app = create_app(settings)
    async with running(app, "http://settlement") as settlement:
        async with connected(nats_url, "settlement") as client:
            js = client.jetstream()
            await ensure_stream(js, settings)
            event = cutoff_event()
            for n, (service, subject) in enumerate(
                [
                    ("progression", "sib.progression.cutoff.advanced.v1"),
                    ("settlement", "sib.intake.participant.enrolled.v2"),
                ]
            ):
                await js.publish(
                    "sib-dlq.settlement.settlement-facts",
                    event.to_json_bytes(),
                    headers={
                        MSG_ID_HEADER: f"planted-{n}",
                        DL_CONSUMER: "settlement-facts",
                        DL_SERVICE: service,
                        DL_SUBJECT: subject,
                        DL_EVENT_TYPE: event.type,
                    },
                )
            results = await redrive(app.state.database, js, SETTLEMENT_CONSUMERS)
            assert [r.outcome for r in results] == ["refused", "refused"]
            assert "not written by settlement" in (results[0].error or "")
            assert "does not belong on the subject" in (results[1].error or "")
            assert len(await list_dead_letters(js, settings)) == 2  # kept for a person to look at
            route = await settlement.post("/v1/admin/dead-letters/redrive", headers=auth(Role.admin))
            assert route.status_code == 200, route.text
            assert (route.json()["applied"], route.json()["failed"], route.json()["refused"]) == (0, 0, 2)
