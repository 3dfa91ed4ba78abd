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
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

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
from tests.integration.conftest import eventually
from tests.integration.test_nats_permissions import connected

REPO = Path(__file__).resolve().parents[2]
PROGRAMME = "hedensted-2022"
ERASED = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
PSEUDONYM = "ab" * 32
FACTS = next(spec for spec in SETTLEMENT_CONSUMERS if spec.name == "settlement-facts")
PARTICIPANTS = next(spec for spec in PROGRESSION_CONSUMERS if spec.name == "progression-participants")


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
            filter_subjects=[subject_for(t, "sib") for t in FACTS.event_types],
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
            filter_subjects=[subject_for(t, "sib") for t in PARTICIPANTS.event_types],
        ),
    )
    assert len(unacked) == 6  # two enrolments, four status records
    # Intake erases the one participant; and an erasure event that names no valid id erases nothing.
    await publish(nats_url, "intake", [ParticipantErasedV1(participant_id=ERASED)])
    await publish(nats_url, "intake", [ParticipantErasedV1(participant_id="0")])

    async with connected(nats_url, "operator") as client:
        js = client.jetstream()
        before = {stream: await everything(js, stream) for stream in ("SIB", "SIB_DLQ")}
    async with connected(nats_url, "eraser") as client:
        report = await run_once(client.jetstream(), CommonSettings(service_name="eraser", nats_url=nats_url))
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

    # A repeated erasure (intake announcing it again), by the command itself: nothing more to delete.
    await publish(nats_url, "intake", [ParticipantErasedV1(participant_id=ERASED)])
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
    assert summary["participants"] == 1 and summary["deleted"] == {"SIB": 0, "SIB_DLQ": 0}
    assert ERASED not in stdout + stderr
    async with connected(nats_url, "eraser") as client:  # and the erasure events are all acked
        info = await client.jetstream().consumer_info("SIB", "eraser")
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
