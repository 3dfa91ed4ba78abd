"""Fault tests with real processes: nats-server and the three services under uvicorn, on SQLite and
on PostgreSQL. Each test's name says what it breaks and what it checks.

"A fresh recompute" is ``python -m deploy.ops rebuild settlement``: every event in the stream replayed
into an empty database through settlement's own handlers, then compared table by table (months,
statements with their sha256, copies) with the live database; it exits 1 on any difference.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from deploy.local import free_port, start_nats, start_service, wait_ready
from libs.common.db import inbox_table, outbox_table
from libs.common.events import CloudEvent
from libs.common.outbox import unpublished
from services.progression.models import StatusRecordRow as ProgressionRecord
from services.settlement.models import StatementRow, StatusRecordRow
from tests.conftest import PG_HOST, PG_PORT, PG_URL
from tests.e2e.conftest import Stack, make_stack
from tests.e2e.faults import (
    TcpProxy,
    background,
    count,
    create_programme,
    request_read_by_server,
    rows,
    run_ops,
    settings_of,
    status_records,
    stream_events,
)
from tests.issuing import issue_sync

STATUS_RECORDED = "dk.sib.progression.status.recorded.v1"


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def settlement_holds(stack: Stack, records: int, env_name: str = "settlement") -> bool:
    return count(settings_of(stack.env[env_name], "settlement"), StatusRecordRow) == records


def post_batches(
    url: str, jobcenter: dict[str, str], records: list[dict[str, object]], size: int, posted: list[int]
) -> None:
    with httpx.Client(base_url=url, headers=jobcenter, timeout=60) as client:
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            response = client.post(
                "/v1/status-records/batch",
                json={"records": chunk},
                headers={"Idempotency-Key": f"batch-{start}"},
            )
            assert response.status_code in (200, 201), response.text
            posted.append(len(chunk))


def assert_fresh_recompute_is_identical(stack: Stack) -> None:
    result = run_ops(stack.env["settlement"], "rebuild", "settlement")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rebuilt read model is identical to the live one" in result.stdout
    assert "participant_months   identical" in result.stdout


@pytest.mark.slow_on("postgresql")  # the SQLite run stays in make test
def test_kill_9_settlement_while_1000_records_flow_then_restart_months_equal_a_fresh_recompute_and_nothing_doubles(
    stack: Stack,
) -> None:
    programme = create_programme(stack.urls["intake"], f"kill-{uuid.uuid4().hex[:6]}", citizens=40)
    records = status_records(programme.participants, per_participant=25, seed=9)
    assert len(records) == 1000
    posted: list[int] = []
    killed_at: list[int] = []

    def jobcenter() -> None:
        post_batches(stack.urls["progression"], programme.jobcenter, records, size=10, posted=posted)

    with background(jobcenter) as thread:
        wait_until(lambda: sum(posted) >= 300, 60, "the first 300 records")
        stack.processes["settlement"].kill()  # SIGKILL: no shutdown, no ack of what was in hand
        assert stack.processes["settlement"].popen.returncode == -signal.SIGKILL
        killed_at.append(sum(posted))
        time.sleep(1.0)  # the jobcenter keeps posting while settlement is dead
        stack.start("settlement")
    assert not thread.is_alive() and sum(posted) == 1000
    assert killed_at[0] < 1000  # settlement died mid-flow

    cutoff = httpx.put(
        f"{stack.urls['progression']}/v1/programmes/{programme.programme_id}/data-cutoff",
        json={"complete_through": "2025-12-31"},
        headers=programme.jobcenter,
    )
    assert cutoff.status_code == 200, cutoff.text
    wait_until(lambda: settlement_holds(stack, 1000), 120, "settlement to hold all 1,000 records")
    statement = issue_sync(stack.urls["settlement"], programme.programme_id, "2026-02", programme.jobcenter)
    assert statement.status_code == 201, statement.text

    # Nothing lost, nothing doubled: the same record ids on both sides, each once, each event once.
    progression = settings_of(stack.env["progression"], "progression")
    settlement = settings_of(stack.env["settlement"], "settlement")
    sent = {r[0] for r in rows(progression, select(ProgressionRecord.record_id))}
    held = [r[0] for r in rows(settlement, select(StatusRecordRow.record_id))]
    assert len(sent) == 1000 and sorted(held) == sorted(sent)
    handled = [r[0] for r in rows(settlement, select(inbox_table.c.event_id))]
    assert len(handled) == len(set(handled))
    # Each record made one event (in the stream once, whatever was published again after the kill),
    # and settlement applied exactly those events: an event id is the inbox's key, so a record applied
    # twice would show as two events for it.
    recorded = [
        CloudEvent.model_validate_json(body)
        for subject, body in stream_events(f"nats://127.0.0.1:{stack.nats_port}")
        if subject == "sib.progression.status.recorded.v1"
    ]
    assert Counter(str(e.data["record_id"]) for e in recorded) == Counter(sent)
    applied = rows(
        settlement,
        select(inbox_table.c.event_id).where(inbox_table.c.event_type == STATUS_RECORDED),
    )
    assert sorted(r[0] for r in applied) == sorted(e.id for e in recorded)
    wait_until(
        lambda: count(settlement, outbox_table, unpublished()) == 0,
        30,
        "settlement's outbox to be published",
    )
    assert_fresh_recompute_is_identical(stack)


@pytest.mark.slow_on("postgresql")  # the SQLite run stays in make test
def test_nats_stopped_while_the_jobcenter_posts_every_post_succeeds_and_every_event_arrives_after_restart(
    stack: Stack,
) -> None:
    programme = create_programme(stack.urls["intake"], f"nats-{uuid.uuid4().hex[:6]}", citizens=10)
    records = status_records(programme.participants, per_participant=20, seed=4)
    wait_until(lambda: settlement_holds(stack, 0), 5, "a quiet start")
    stack.stop_nats()
    wait_until(
        lambda: httpx.get(f"{stack.urls['progression']}/readyz").status_code == 503, 15, "readyz to notice"
    )
    posted: list[int] = []
    post_batches(stack.urls["progression"], programme.jobcenter, records, size=20, posted=posted)
    assert sum(posted) == 200  # every post succeeded with NATS down: the outbox holds the events
    single = httpx.post(
        f"{stack.urls['progression']}/v1/status-records",
        json={"participant_id": programme.participants[0], "code": "employed", "valid_from": "2025-06-01"},
        headers=programme.jobcenter,
    )
    assert single.status_code == 201
    progression = settings_of(stack.env["progression"], "progression")
    assert count(progression, outbox_table, unpublished()) >= 201

    stack.start_nats()
    wait_until(lambda: settlement_holds(stack, 201), 60, "every event to reach settlement")
    wait_until(lambda: count(progression, outbox_table, unpublished()) == 0, 30, "the outbox")
    published = [s for s, _ in stream_events(f"nats://127.0.0.1:{stack.nats_port}")]
    assert published.count("sib.progression.status.recorded.v1") == 201  # each exactly once
    assert_fresh_recompute_is_identical(stack)

    # make rebuild SERVICE=settlement REPLACE=1, with settlement stopped: the rebuilt database takes
    # the live one's place and the restarted service answers as before.
    months_url = f"{stack.urls['settlement']}/v1/participants/{programme.participants[0]}/months"
    before = httpx.get(months_url, headers=programme.jobcenter).json()["items"]
    stack.processes["settlement"].stop()
    replaced = run_ops(stack.env["settlement"], "rebuild", "settlement", "--replace")
    assert replaced.returncode == 0 and "replaced; the old one is kept as" in replaced.stdout, replaced.stdout
    stack.start("settlement")
    after = httpx.get(months_url, headers=programme.jobcenter).json()["items"]
    assert after == before and len(after) == 25
    assert settlement_holds(stack, 201)


def test_the_same_events_delivered_twice_and_shuffled_to_a_second_settlement_give_the_same_months(
    stack: Stack, tmp_path: Path
) -> None:
    programme = create_programme(stack.urls["intake"], f"dup-{uuid.uuid4().hex[:6]}", citizens=8)
    posted: list[int] = []
    post_batches(
        stack.urls["progression"],
        programme.jobcenter,
        status_records(programme.participants, per_participant=15, seed=2),
        size=30,
        posted=posted,
    )
    assert httpx.put(
        f"{stack.urls['progression']}/v1/programmes/{programme.programme_id}/data-cutoff",
        json={"complete_through": "2024-12-31"},
        headers=programme.jobcenter,
    ).is_success
    wait_until(lambda: settlement_holds(stack, 120), 60, "settlement to hold every record")
    assert (
        issue_sync(
            stack.urls["settlement"], programme.programme_id, "2025-01", programme.jobcenter
        ).status_code
        == 201
    )
    settlement = settings_of(stack.env["settlement"], "settlement")
    wait_until(lambda: count(settlement, outbox_table, unpublished()) == 0, 30, "outbox")

    # A second nats-server gets every event in a shuffled order, a third of them twice under a new
    # message id (so JetStream cannot drop the copy): a second settlement must end the same.
    events = stream_events(f"nats://127.0.0.1:{stack.nats_port}")
    rng = random.Random(6)
    replayed = events + [e for i, e in enumerate(events) if i % 3 == 0]
    rng.shuffle(replayed)
    other_port = free_port()
    other_nats = start_nats("127.0.0.1", other_port, tmp_path / "nats-b", tmp_path / "nats-b.log")
    env_b = stack.env["settlement"] | {
        "NATS_URL": f"nats://127.0.0.1:{other_port}",
        "VAR_DIR": str(tmp_path / "var-b"),
    }
    if "DATABASE_SCHEMA" in env_b:
        env_b |= stack.own_database("settlement", f"{env_b['DATABASE_SCHEMA']}_b")
    stack.env["settlement-b"] = env_b
    try:
        publish_all(f"nats://127.0.0.1:{other_port}", replayed)
        port_b = free_port()
        stack.processes["settlement-b"] = start_service(
            "settlement", port_b, env_b, tmp_path / "settlement-b.log"
        )
        wait_ready(f"http://127.0.0.1:{port_b}", stack.processes["settlement-b"])
        settlement_b = settings_of(env_b, "settlement")
        wait_until(lambda: settlement_holds(stack, 120, "settlement-b"), 60, "the second settlement")
        wait_until(lambda: count(settlement_b, StatementRow) == 1, 30, "the statement to be restored")

        import asyncio

        from deploy.ops import compare, service_ops
        from libs.common.db import Database

        async def differences() -> dict[str, dict[str, int]]:
            a, b = Database(settlement), Database(settlement_b)
            try:
                return await compare(service_ops("settlement"), a, b)
            finally:
                await a.dispose()
                await b.dispose()

        def same() -> bool:
            # What the stream carries; the carried tables (drafts, assumptions) are on no stream.
            report = asyncio.run(differences())
            carried = service_ops("settlement").carried
            return all(
                c["only_live"] == c["only_rebuilt"] == 0 for t, c in report.items() if t not in carried
            )

        wait_until(same, 30, "the second settlement's months to equal the first's")
        report = asyncio.run(differences())
        assert report["participant_months"]["same"] > 8 * 12
        assert report["statements"]["same"] == 1
        duplicates_seen = [
            r for r in stack_log(tmp_path / "settlement-b.log") if r.get("outcome") == "duplicate"
        ]
        assert duplicates_seen, "the copies were delivered and recognised as duplicates"
    finally:
        stack.processes.pop("settlement-b").stop() if "settlement-b" in stack.processes else None
        other_nats.stop()


def publish_all(nats_url: str, events: list[tuple[str, bytes]]) -> None:
    import asyncio

    import nats

    from libs.common.nats import MSG_ID_HEADER, connect_options, ensure_stream
    from libs.common.settings import CommonSettings

    async def run() -> None:
        # Each event as the service that owns its subject: only it may publish there.
        clients: dict[str, Any] = {}
        try:
            for subject, body in events:
                owner = subject.split(".")[1]
                if owner not in clients:
                    settings = CommonSettings(service_name=owner, nats_url=nats_url)
                    clients[owner] = await nats.connect(nats_url, **connect_options(settings))
                    await ensure_stream(clients[owner].jetstream(), settings)
                js = clients[owner].jetstream()
                await js.publish(subject, body, headers={MSG_ID_HEADER: str(uuid.uuid4())})
        finally:
            for client in clients.values():
                await client.close()

    asyncio.run(run())


def stack_log(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


@pytest.fixture
def proxied_stack(tmp_path: Path) -> Iterator[tuple[Stack, TcpProxy]]:
    """PostgreSQL behind a TCP proxy for progression only, so its database can be cut like a network."""
    proxy = TcpProxy((PG_HOST, PG_PORT))
    url = PG_URL.replace(f"{PG_HOST}:{PG_PORT}", f"127.0.0.1:{proxy.port}")
    try:
        for stack in make_stack("postgresql", tmp_path, database_url={"progression": url}):
            yield stack, proxy
    finally:
        proxy.close()


@pytest.mark.postgres
def test_database_unreachable_gives_503_with_retry_after_writes_nothing_and_recovers_without_a_restart(
    proxied_stack: tuple[Stack, TcpProxy],
) -> None:
    stack, proxy = proxied_stack
    programme = create_programme(stack.urls["intake"], f"db-{uuid.uuid4().hex[:6]}", citizens=3)
    records = status_records(programme.participants, per_participant=4, seed=1)
    url = f"{stack.urls['progression']}/v1/status-records/batch"
    key = {"Idempotency-Key": "outage-batch-1"}
    progression = settings_of(stack.env["progression"], "progression").model_copy(
        update={"database_url": PG_URL}  # the test reads past the proxy
    )

    proxy.cut()
    down = httpx.post(url, json={"records": records}, headers=programme.jobcenter | key, timeout=60)
    assert down.status_code == 503, down.text
    assert down.headers["content-type"] == "application/problem+json"
    assert int(down.headers["Retry-After"]) > 0
    assert "database" in down.json()["detail"].lower()
    ready = httpx.get(f"{stack.urls['progression']}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["checks"]["database"] == "down"
    assert count(progression, ProgressionRecord) == 0  # nothing half-written
    assert count(progression, outbox_table) == 0

    proxy.restore()  # no restart, no manual step
    wait_until(
        lambda: httpx.get(f"{stack.urls['progression']}/readyz", timeout=10).status_code == 200, 30, "ready"
    )
    # A client retries while it gets 503 (honouring Retry-After); it must never see a 500.
    deadline = time.monotonic() + 30
    while True:
        again = httpx.post(url, json={"records": records}, headers=programme.jobcenter | key, timeout=60)
        if again.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert again.status_code == 201, again.text  # the retry is the first write, not a replay
    replay = httpx.post(url, json={"records": records}, headers=programme.jobcenter | key, timeout=60)
    assert replay.status_code == 200 and replay.json()["created"] == 0  # a replay stores nothing
    assert replay.json()["records"] == again.json()["records"]
    assert count(progression, ProgressionRecord) == len(records)
    wait_until(lambda: settlement_holds(stack, len(records)), 30, "settlement to receive them once")


@pytest.mark.slow_on("postgresql")  # the SQLite run stays in make test
def test_sigterm_during_a_large_batch_finishes_the_request_then_stops_and_loses_no_event(
    stack: Stack,
) -> None:
    programme = create_programme(stack.urls["intake"], f"term-{uuid.uuid4().hex[:6]}", citizens=5)
    records = status_records(programme.participants, per_participant=1000, seed=3)
    body = json.dumps({"records": records}).encode()
    result: dict[str, httpx.Response] = {}
    answered_at: list[float] = []
    body_sent = threading.Event()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]
        body_sent.set()

    def post() -> None:
        result["response"] = httpx.post(
            f"{stack.urls['progression']}/v1/status-records/batch",
            content=chunks(),
            headers=programme.jobcenter | {"Content-Type": "application/json"},
            timeout=60,
        )
        answered_at.append(time.monotonic())

    port = int(stack.urls["progression"].rsplit(":", 1)[1])
    thread = threading.Thread(target=post)
    thread.start()
    # In flight: the whole request sent and read by the service, and no answer yet.
    deadline = time.monotonic() + 30
    while not (body_sent.is_set() and request_read_by_server(port)):
        assert time.monotonic() < deadline, "timed out waiting for the service to read the request"
        time.sleep(0.005)
    assert not answered_at
    process = stack.processes["progression"]
    signalled_at = time.monotonic()
    process.popen.send_signal(signal.SIGTERM)
    thread.join(timeout=60)
    assert result["response"].status_code == 201, result["response"].text
    assert answered_at[0] > signalled_at  # answered after the signal: it was in flight
    assert process.popen.wait(timeout=30) in (0, -signal.SIGTERM)
    log = stack_log(stack.log("progression"))
    assert [r["event"] for r in log if r["event"] in ("request", "service_stopped")][-2:] == [
        "request",
        "service_stopped",
    ]
    progression = settings_of(stack.env["progression"], "progression")
    assert count(progression, ProgressionRecord) == 5000
    # Whatever the relay had not published yet waits in the outbox and goes out after a restart.
    stack.start("progression")
    wait_until(lambda: count(progression, outbox_table, unpublished()) == 0, 60, "the outbox")
    published = [s for s, _ in stream_events(f"nats://127.0.0.1:{stack.nats_port}")]
    assert published.count("sib.progression.status.recorded.v1") == 5000
