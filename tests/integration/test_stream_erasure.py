"""The stream eraser (deploy/ops/erase_streams.py) on a real nats-server with the platform's users: an
erased participant's messages leave the event stream and the dead letters, but for the accounting
records and the erasure event; everyone else's stay where they were, and the services' durable
consumers carry on past the deleted messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from deploy.local import free_port, start_nats
from deploy.nats_auth import ERASER, SERVICE_CONSUMERS, erasure_watchers, permissions
from deploy.ops import KEPT_TYPES, erase_participants, run_once
from libs.common.contracts import (
    MonthChange,
    MonthsRecalculatedV1,
    ParticipantEnrolledV1,
    ParticipantEnrolledV2,
    ParticipantErasedV1,
    StatementIssuedV2,
    StatementLinesV1,
    StatusRecordedV1,
)
from libs.common.events import CloudEvent, EventPayload, new_event, subject_for
from libs.common.nats import (
    DL_CONSUMER,
    DL_ERROR,
    DL_EVENT_TYPE,
    DL_SERVICE,
    DL_STREAM_SEQ,
    DL_SUBJECT,
    MSG_ID_HEADER,
    connect_options,
    ensure_stream,
)
from libs.common.settings import CommonSettings
from services.progression.handlers import CONSUMERS as PROGRESSION_CONSUMERS
from services.settlement.handlers import CONSUMERS as SETTLEMENT_CONSUMERS
from tests.conftest import TEST_USERS
from tests.integration.conftest import eventually
from tests.integration.test_nats_permissions import connected

REPO = Path(__file__).resolve().parents[2]
PROGRAMME = "hedensted-2022"
ERASED = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
PSEUDONYM = "ab" * 32
FACTS = next(spec for spec in SETTLEMENT_CONSUMERS if spec.name == "settlement-facts")
PARTICIPANTS = next(spec for spec in PROGRESSION_CONSUMERS if spec.name == "progression-participants")


def takes(event_types: Iterable[str]) -> list[str]:
    """A service consumer's subjects, but the erasure events' (this test does not wait for them)."""
    return [subject_for(t, "sib") for t in event_types if t != ParticipantErasedV1.event_type]


def eraser_at(nats_url: str) -> CommonSettings:
    return CommonSettings(service_name="eraser", nats_url=nats_url)


def enrolled_v1(pid: str) -> ParticipantEnrolledV1:
    day = date(2024, 1, 2)
    return ParticipantEnrolledV1(
        participant_id=pid,
        programme_id=PROGRAMME,
        track="sygedagpenge",
        cpr_pseudonym=PSEUDONYM if pid == ERASED else "cd" * 32,
        referred_on=day,
        enrolled_on=day,
        consent_given_on=day,
    )


def enrolled_v2(pid: str) -> ParticipantEnrolledV2:
    day = date(2024, 1, 2)
    return ParticipantEnrolledV2(
        participant_id=pid,
        programme_id=PROGRAMME,
        track="sygedagpenge",
        referred_on=day,
        enrolled_on=day,
        consent_given_on=day,
    )


def status(pid: str, seq: int) -> StatusRecordedV1:
    return StatusRecordedV1(
        record_id=f"r-{pid[:8]}-{seq}",
        participant_id=pid,
        programme_id=PROGRAMME,
        code="sygedagpenge",
        category="public_support",
        valid_from=date(2024, seq, 1),
        valid_to=None,
        recording_seq=seq,
        recorded_at=datetime.now(UTC),
    )


def months(pid: str) -> MonthsRecalculatedV1:
    change = MonthChange(month="2024-02", old_fee_dkk=None, new_fee_dkk=Decimal("3500.00"), provisional=False)
    return MonthsRecalculatedV1(participant_id=pid, programme_id=PROGRAMME, changes=[change])


def lines() -> StatementLinesV1:
    return StatementLinesV1(
        statement_id=str(uuid.uuid4()),
        programme_id=PROGRAMME,
        part=1,
        first_line_no=1,
        lines=[
            ("fee", ERASED, "2024-02", Decimal("3500.00"), None, None),
            ("fee", OTHER, "2024-02", Decimal("3500.00"), None, None),
        ],
    )


def issued(statement_id: str) -> StatementIssuedV2:
    return StatementIssuedV2(
        statement_id=statement_id,
        programme_id=PROGRAMME,
        period="2024-02",
        covers_through="2024-02-29",
        issued_at=datetime.now(UTC),
        net_dkk=Decimal("7000.00"),
        cumulative_invoiced_dkk=Decimal("7000.00"),
        investor_dkk=Decimal("3500.00"),
        provider_dkk=Decimal("3500.00"),
        sha256="0" * 64,
        terms_version=1,
        issued_by="finance",
        totals={"net_dkk": Decimal("7000.00")},
        line_count=2,
        parts=1,
    )


async def publish(nats_url: str, user: str, payloads: Iterable[EventPayload]) -> list[CloudEvent]:
    events = [new_event(payload) for payload in payloads]
    async with connected(nats_url, user) as client:
        js = client.jetstream()
        for event in events:
            await js.publish(
                subject_for(event.type, "sib"), event.to_json_bytes(), headers={MSG_ID_HEADER: event.id}
            )
    return events


async def dead_letter(nats_url: str, event: CloudEvent, error: str) -> None:
    """A dead letter as settlement's consumer writes one (libs/common/nats/consumer.py)."""
    async with connected(nats_url, "settlement") as client:
        await client.jetstream().publish(
            "sib-dlq.settlement.settlement-facts",
            event.to_json_bytes(),
            headers={
                MSG_ID_HEADER: f"dead:settlement-facts:{event.id}",
                DL_CONSUMER: "settlement-facts",
                DL_SERVICE: "settlement",
                DL_SUBJECT: subject_for(event.type, "sib"),
                DL_STREAM_SEQ: "1",
                DL_EVENT_TYPE: event.type,
                DL_ERROR: error,
            },
        )


async def everything(js: JetStreamContext, stream: str) -> dict[int, Msg]:
    """Every message left in ``stream`` by sequence, read with an ephemeral consumer (the operator)."""
    info = await js.stream_info(stream)
    if not info.state.messages:
        return {}
    subscription = await js.pull_subscribe(
        "", stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE)
    )
    found: dict[int, Msg] = {}
    while len(found) < info.state.messages:
        for msg in await subscription.fetch(info.state.messages - len(found), timeout=5):
            found[msg.metadata.sequence.stream] = msg
    await subscription.unsubscribe()
    return found


def spellings(pid: str) -> list[bytes]:
    value = uuid.UUID(pid)
    return [s.encode() for s in (str(value), str(value).upper(), value.hex, value.hex.upper())]


def mentions(msg: Msg, needles: list[bytes]) -> bool:
    raw = (msg.data or b"") + json.dumps(msg.headers or {}).encode()
    return any(needle in raw for needle in needles)


def event_type(msg: Msg) -> str:
    return str(json.loads(msg.data)["type"])


async def test_the_eraser_removes_an_erased_participants_messages_and_leaves_everyone_elses(
    nats_url: str,
) -> None:
    async with connected(nats_url, "intake") as client:
        await ensure_stream(client.jetstream(), CommonSettings(nats_url=nats_url))
    # Settlement's facts consumer (as the service makes it, with a short ack wait) has read the
    # participants' events but acked none when they are erased.
    settlement = await nats.connect(nats_url, **connect_options(CommonSettings(service_name="settlement")))
    settlement_js = settlement.jetstream()
    await settlement_js.add_consumer(
        "SIB",
        ConsumerConfig(
            durable_name=FACTS.name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=1.0,
            filter_subjects=takes(FACTS.event_types),
        ),
    )
    facts = await settlement_js.pull_subscribe_bind(FACTS.name, stream="SIB")
    await publish(nats_url, "intake", [enrolled_v1(ERASED), enrolled_v2(OTHER)])
    status_events = await publish(
        nats_url, "progression", [status(p, n) for n in (1, 2) for p in (ERASED, OTHER)]
    )
    statement = lines()
    settled = await publish(
        nats_url, "settlement", [months(ERASED), months(OTHER), statement, issued(statement.statement_id)]
    )
    # Dead letters: one of each participant's status records.
    await dead_letter(nats_url, status_events[0], f"unknown participant {ERASED}")
    await dead_letter(nats_url, status_events[1], "the database said no")
    # A letter that names the participant only in its error header, in upper-case hex.
    await dead_letter(nats_url, settled[-1], f"participant {uuid.UUID(ERASED).hex.upper()} is not enrolled")
    unacked = await facts.fetch(100, timeout=5)
    # Progression's participants consumer exists but has fetched nothing: the deleted enrolment is
    # in its pending range.
    progression = await nats.connect(nats_url, **connect_options(CommonSettings(service_name="progression")))
    progression_js = progression.jetstream()
    await progression_js.add_consumer(
        "SIB",
        ConsumerConfig(
            durable_name=PARTICIPANTS.name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subjects=takes(PARTICIPANTS.event_types),
        ),
    )
    assert len(unacked) == 6  # two enrolments, four status records
    # Intake erases the one participant; and an erasure event that names no valid id erases nothing.
    await publish(nats_url, "intake", [ParticipantErasedV1(participant_id=ERASED)])
    # (made without validation: the contract refuses it, as a malformed message on the wire would be)
    await publish(nats_url, "intake", [ParticipantErasedV1.model_construct(participant_id="0")])

    async with connected(nats_url, "operator") as client:
        js = client.jetstream()
        before = {stream: await everything(js, stream) for stream in ("SIB", "SIB_DLQ")}
    async with connected(nats_url, "eraser") as client:
        report = await run_once(client.jetstream(), eraser_at(nats_url), watchers=[])
    assert report.participants == 1 and report.refused == 1
    assert report.deleted == {"SIB": 4, "SIB_DLQ": 2}  # enrolment, two status records, months; letters
    assert report.deleted_types[StatusRecordedV1.event_type] == 3  # two in the stream, one letter

    erased, other = spellings(ERASED), spellings(OTHER)
    async with connected(nats_url, "operator") as client:
        js = client.jetstream()
        after = {stream: await everything(js, stream) for stream in ("SIB", "SIB_DLQ")}
    for stream, msgs in after.items():
        naming = [msg for msg in msgs.values() if mentions(msg, [*erased, PSEUDONYM.encode()])]
        assert {event_type(msg) for msg in naming} <= set(KEPT_TYPES), stream
    assert sorted(event_type(m) for m in after["SIB"].values() if mentions(m, erased)) == sorted(
        [StatementLinesV1.event_type, ParticipantErasedV1.event_type]
    )
    # Everything else is where it was, under the same sequence numbers.
    for stream in ("SIB", "SIB_DLQ"):
        kept = {seq: msg.data for seq, msg in before[stream].items() if not mentions(msg, erased)}
        kept |= {seq: m.data for seq, m in before[stream].items() if event_type(m) in KEPT_TYPES}
        assert {seq: msg.data for seq, msg in after[stream].items()} == kept, stream
    assert sum(mentions(m, other) for m in after["SIB"].values()) == 5  # enrolment, 2 status, months, lines
    assert len(after["SIB_DLQ"]) == 1 and mentions(next(iter(after["SIB_DLQ"].values())), other)

    # The facts consumer is not wedged by the deleted messages it holds unacked: after the ack wait it
    # is given the other participant's again (and only those), then what comes next.
    redelivered: list[Msg] = []

    async def others_redelivered() -> bool:
        with contextlib.suppress(nats.errors.TimeoutError):
            redelivered.extend(await facts.fetch(100, timeout=0.5))
        return len(redelivered) >= 3

    await eventually(others_redelivered, timeout=15)
    assert (
        sorted(CloudEvent.from_json_bytes(m.data).data["participant_id"] for m in redelivered) == [OTHER] * 3
    )
    for msg in redelivered:
        await msg.ack()
    (later,) = await publish(nats_url, "progression", [status(OTHER, 3)])
    (fresh,) = await facts.fetch(100, timeout=5)
    assert CloudEvent.from_json_bytes(fresh.data).id == later.id
    await fresh.ack_sync()
    info = await settlement_js.consumer_info("SIB", FACTS.name)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    await settlement.close()
    participants = await progression_js.pull_subscribe_bind(PARTICIPANTS.name, stream="SIB")
    (enrolment,) = await participants.fetch(100, timeout=5)
    assert CloudEvent.from_json_bytes(enrolment.data).data["participant_id"] == OTHER
    await enrolment.ack_sync()
    info = await progression_js.consumer_info("SIB", PARTICIPANTS.name)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    await progression.close()

    # A repeated erasure (intake announcing it again): nothing more to delete.
    await publish(nats_url, "intake", [ParticipantErasedV1(participant_id=ERASED)])
    async with connected(nats_url, "eraser") as client:
        again = await run_once(client.jetstream(), eraser_at(nats_url), watchers=[])
        info = await client.jetstream().consumer_info("SIB", "eraser")  # and the erasure events are all acked
    assert again.participants == 1 and again.total_deleted == 0
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_erasing_a_participant_twice_deletes_nothing_the_second_time(nats_url: str) -> None:
    async with connected(nats_url, "intake") as client:
        await ensure_stream(client.jetstream(), CommonSettings(nats_url=nats_url))
    await publish(nats_url, "progression", [status(ERASED, 1), status(OTHER, 1)])
    settings = CommonSettings(service_name="eraser", nats_url=nats_url)
    async with connected(nats_url, "eraser") as client:
        js = client.jetstream()
        first = await erase_participants(js, settings, [ERASED])
        second = await erase_participants(js, settings, [ERASED])
        info = await js.stream_info("SIB")
    assert first.deleted["SIB"] == 1 and second.total_deleted == 0
    assert info.state.messages == 1 and info.config.deny_delete is not True


# The services' consumers as they are once progression and settlement take the erasure events (their
# participants' and facts' consumers), whether or not their handlers do so yet.
WATCHED = {
    service: [
        replace(spec, event_types=[*spec.event_types, ParticipantErasedV1.event_type])
        if spec.name in (PARTICIPANTS.name, FACTS.name)
        and ParticipantErasedV1.event_type not in spec.event_types
        else spec
        for spec in specs
    ]
    for service, specs in SERVICE_CONSUMERS.items()
}
WATCHERS = {spec.name: (service, spec) for service, specs in WATCHED.items() for spec in specs}


@pytest.fixture
def watched_nats_url(tmp_path: Path) -> Iterator[str]:
    """A nats-server whose eraser has the rights deploy/nats_auth.py gives it for ``WATCHED``."""
    port = free_port()
    eraser = permissions(CommonSettings(), WATCHED)[ERASER]
    process = start_nats(
        "127.0.0.1",
        port,
        tmp_path / "nats",
        tmp_path / "nats-server.log",
        extra_users={**TEST_USERS, ERASER: eraser},
    )
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.stop()


async def acked_all(nats_url: str, durable: str) -> None:
    """The service's durable takes and acks everything it has been given."""
    service, _ = WATCHERS[durable]
    async with connected(nats_url, service) as client:
        subscription = await client.jetstream().pull_subscribe_bind(durable, stream="SIB")
        while True:
            try:
                msgs = await subscription.fetch(100, timeout=0.5)
            except nats.errors.TimeoutError:
                break
            for msg in msgs:
                await msg.ack_sync()


async def test_the_eraser_waits_until_the_services_have_acked_the_erasure_and_then_deletes_what_came_later(
    watched_nats_url: str,
) -> None:
    nats_url = watched_nats_url
    watchers = erasure_watchers(WATCHED)
    assert {PARTICIPANTS.name, FACTS.name} <= set(watchers)
    async with connected(nats_url, "intake") as client:
        await ensure_stream(client.jetstream(), CommonSettings(nats_url=nats_url))
    for durable in watchers:  # as each service makes its consumers
        service, spec = WATCHERS[durable]
        async with connected(nats_url, service) as client:
            await client.jetstream().add_consumer(
                "SIB",
                ConsumerConfig(
                    durable_name=durable,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_policy=AckPolicy.EXPLICIT,
                    filter_subjects=[subject_for(t, "sib") for t in spec.event_types],
                ),
            )
    await publish(nats_url, "intake", [enrolled_v2(ERASED), enrolled_v2(OTHER)])
    await publish(nats_url, "progression", [status(ERASED, 1), status(OTHER, 1)])
    (erasure,) = await publish(nats_url, "intake", [ParticipantErasedV1(participant_id=ERASED)])
    # Every service consumer but settlement's facts has taken the erasure in.
    for durable in watchers:
        if durable != FACTS.name:
            await acked_all(nats_url, durable)

    async with connected(nats_url, ERASER) as client:
        js = client.jetstream()
        waiting = await run_once(js, eraser_at(nats_url), watchers=watchers, retry_in=0.2)
        eraser = await js.consumer_info("SIB", ERASER)
    assert waiting.waiting == 1 and waiting.total_deleted == 0 and waiting.participants == 0
    assert eraser.ack_floor.stream_seq == 0  # the erasure event is not acked
    async with connected(nats_url, "operator") as client:
        before = await everything(client.jetstream(), "SIB")
    assert sum(mentions(m, spellings(ERASED)) for m in before.values()) == 3  # enrolment, status, erasure

    # Settlement had a month recalculation in its outbox: published after the erasure event, before its
    # facts consumer acks the erasure (and from then on publishes nothing more about the participant).
    await publish(nats_url, "settlement", [months(ERASED)])
    await acked_all(nats_url, FACTS.name)

    async with connected(nats_url, ERASER) as client:
        done = await run_once(client.jetstream(), eraser_at(nats_url), watchers=watchers, retry_in=0.2)
    assert done.participants == 1 and done.waiting == 0
    assert done.deleted == {"SIB": 3, "SIB_DLQ": 0}  # enrolment, status, and the later months
    async with connected(nats_url, "operator") as client:
        js = client.jetstream()
        after = await everything(js, "SIB")
        eraser = await js.consumer_info("SIB", ERASER)
    naming = [m for m in after.values() if mentions(m, spellings(ERASED))]
    assert [CloudEvent.from_json_bytes(m.data).id for m in naming] == [erasure.id]
    assert sum(mentions(m, spellings(OTHER)) for m in after.values()) == 2
    assert eraser.num_ack_pending == 0 and eraser.num_pending == 0

    # The erasure announced again, taken in by the services, and the command as deployed (with the
    # services' consumers as handlers.py defines them): nothing more to delete, and no id in its output.
    await publish(nats_url, "intake", [ParticipantErasedV1(participant_id=ERASED)])
    for durable in watchers:
        await acked_all(nats_url, durable)
    env = {**os.environ, "NATS_URL": nats_url, "NATS_USER": "eraser", "PYTHONPATH": str(REPO)}
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.ops",
        "erase-streams",
        "--once",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(command.communicate(), timeout=60)
    stdout, stderr = out.decode(), err.decode()
    assert command.returncode == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["participants"] == 1 and summary["waiting"] == 0
    assert summary["deleted"] == {"SIB": 0, "SIB_DLQ": 0}
    assert ERASED not in stdout + stderr
