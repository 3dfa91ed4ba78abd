"""End to end: a request to intake produces an event that progression and settlement consume, and the
trace its caller began (W3C traceparent) shows in all three services' logs."""

from __future__ import annotations

import json
import re
import secrets
import signal
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

from libs.common.auth import Role
from libs.common.devtoken import dev_token
from tests.e2e.conftest import Stack
from tests.issuing import issue_sync

SEED = Path(__file__).resolve().parents[2] / "deploy" / "seed" / "hedensted-2022.json"


def token(role: Role, programmes: tuple[str, ...] = ("*",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(role, programmes)}"}


def eventually(check: Callable[[], httpx.Response], timeout: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = check()
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def programme_body(programme_id: str) -> dict[str, object]:
    body: dict[str, object] = json.loads(SEED.read_text())
    body["programme_id"] = programme_id
    return body


def test_programme_created_in_intake_reaches_progression_and_settlement_in_one_trace(
    stack: Stack,
) -> None:
    programme_id = f"e2e-{uuid.uuid4().hex[:8]}"
    trace_id = secrets.token_hex(16)
    provider = token(Role.provider, (programme_id,))

    created = httpx.post(
        f"{stack.urls['intake']}/v1/programmes",
        json=programme_body(programme_id),
        headers=token(Role.admin) | {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-00"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["X-Correlation-ID"] == trace_id

    in_progression = eventually(
        lambda: httpx.get(f"{stack.urls['progression']}/v1/programmes/{programme_id}", headers=provider)
    )
    assert in_progression.status_code == 200, in_progression.text
    assert in_progression.json()["terms_version"] == 1
    assert in_progression.json()["status_categories"]["sygedagpenge"] == "public_support"

    in_settlement = eventually(
        lambda: httpx.get(f"{stack.urls['settlement']}/v1/programmes/{programme_id}/terms", headers=provider)
    )
    assert in_settlement.status_code == 200, in_settlement.text
    terms = in_settlement.json()["in_force"]["terms"]
    assert terms["fee_per_month_dkk"] == "3500.00"
    assert terms["split"] == {"investor_percent": "60.00", "provider_percent": "40.00"}

    # SIGTERM: every service shuts down through its lifespan (uvicorn re-raises the signal after a
    # graceful shutdown, so the exit status is -SIGTERM rather than 0).
    for name, process in stack.processes.items():
        assert process.stop() in (0, -signal.SIGTERM)
        assert any(r["event"] == "service_stopped" for r in stack.log_records(name)), name

    for name in ("intake", "progression", "settlement"):
        tagged = [r for r in stack.log_records(name) if r.get("trace_id") == trace_id]
        assert tagged, f"{name} logged nothing in the trace"
    intake_events = {r["event"] for r in stack.log_records("intake") if r.get("trace_id") == trace_id}
    assert {"request", "programme_created"} <= intake_events
    for consumer_service in ("progression", "settlement"):
        handled = [
            r
            for r in stack.log_records(consumer_service)
            if r.get("trace_id") == trace_id and r["event"] == "event_handled"
        ]
        assert len(handled) == 1
        assert handled[0]["event_type"] == "dk.sib.intake.programme.terms_published.v1"
        assert handled[0]["outcome"] == "applied"


def test_every_service_serves_health_docs_and_metrics(stack: Stack) -> None:
    for name, url in stack.urls.items():
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "nats": "ok"}
        assert httpx.get(f"{url}/docs").status_code == 200
        openapi = httpx.get(f"{url}/openapi.json").json()
        assert openapi["info"]["title"] == f"SIB {name}"
        metrics = httpx.get(f"{url}/metrics")
        assert "sib_http_requests_total" in metrics.text
        assert metrics.headers["content-type"].startswith("text/plain")


def test_readyz_reports_nats_down_and_writes_wait_in_the_outbox_until_it_returns(stack: Stack) -> None:
    stack.stop_nats()
    deadline = time.monotonic() + 10
    while (ready := httpx.get(f"{stack.urls['intake']}/readyz")).status_code != 503:
        assert time.monotonic() < deadline, "readyz never noticed NATS was down"
        time.sleep(0.1)
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["checks"]["nats"] == "down"

    programme_id = f"e2e-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{stack.urls['intake']}/v1/programmes", json=programme_body(programme_id), headers=token(Role.admin)
    )
    assert created.status_code == 201  # the outbox holds the event while NATS is away

    stack.start_nats()
    arrived = eventually(
        lambda: httpx.get(
            f"{stack.urls['settlement']}/v1/programmes/{programme_id}/terms", headers=token(Role.admin)
        ),
        timeout=20,
    )
    assert arrived.status_code == 200, arrived.text
    for url in stack.urls.values():
        assert eventually(partial(httpx.get, f"{url}/readyz")).status_code == 200


def test_a_correction_of_an_invoiced_month_appears_as_an_adjustment_line(stack: Stack) -> None:
    programme_id = f"e2e-{uuid.uuid4().hex[:8]}"
    admin, jobcenter = token(Role.admin), token(Role.jobcenter, (programme_id,))
    assert (
        httpx.post(
            f"{stack.urls['intake']}/v1/programmes", json=programme_body(programme_id), headers=admin
        ).status_code
        == 201
    )
    pid = httpx.post(
        f"{stack.urls['intake']}/v1/participants",
        json={
            "programme_id": programme_id,
            "cpr": "070761-4285",
            "track": "sygedagpenge",
            "referred_on": "2024-03-01",
        },
        headers=jobcenter,
    ).json()["participant_id"]
    enrolled = httpx.post(
        f"{stack.urls['intake']}/v1/participants/{pid}/enrolment",
        json={"enrolled_on": "2024-03-15", "consent_given_on": "2024-03-10"},
        headers=jobcenter,
    )
    assert enrolled.status_code == 200
    # Posted right after the enrolment returned: accepted even if the event has not arrived yet.
    posted = httpx.post(
        f"{stack.urls['progression']}/v1/status-records",
        json={
            "participant_id": pid,
            "code": "employed",
            "valid_from": "2024-03-15",
            "valid_to": "2024-06-30",
        },
        headers=jobcenter,
    )
    assert posted.status_code == 201, posted.text
    cutoff_url = f"{stack.urls['progression']}/v1/programmes/{programme_id}/data-cutoff"
    assert (
        eventually(
            lambda: httpx.put(cutoff_url, json={"complete_through": "2024-06-30"}, headers=jobcenter)
        ).status_code
        == 200
    )

    def month(name: str) -> dict[str, object]:
        items = (
            httpx.get(f"{stack.urls['settlement']}/v1/participants/{pid}/months", headers=jobcenter)
            .json()
            .get("items", [])
        )
        return next((m for m in items if m["month"] == name), {})

    deadline = time.monotonic() + 15
    while month("2024-05").get("fee_dkk") != "3500.00":
        assert time.monotonic() < deadline, "settlement never computed May"
        time.sleep(0.1)
    first = issue_sync(stack.urls["settlement"], programme_id, "2024-07", jobcenter)
    assert first.status_code == 201, first.text
    assert [(line["kind"], line["month"]) for line in first.json()["lines"]] == [
        ("fee", "2024-03"),
        ("fee", "2024-04"),
        ("fee", "2024-05"),
    ]

    # The jobcenter reports, late, a sick day in April: an invoiced month.
    correction = httpx.post(
        f"{stack.urls['progression']}/v1/status-records",
        json={
            "participant_id": pid,
            "code": "sygedagpenge",
            "valid_from": "2024-04-22",
            "valid_to": "2024-04-22",
        },
        headers=jobcenter,
    )
    assert correction.status_code == 201
    deadline = time.monotonic() + 15
    while month("2024-04").get("fee_dkk") != "0.00":
        assert time.monotonic() < deadline, "settlement never saw the correction"
        time.sleep(0.1)
    second = issue_sync(stack.urls["settlement"], programme_id, "2024-08", jobcenter)
    assert second.status_code == 201
    adjustment = next(line for line in second.json()["lines"] if line["kind"] == "adjustment")
    assert (adjustment["month"], adjustment["amount_dkk"]) == ("2024-04", "-3500.00")
    assert adjustment["corrects_statement_id"] == first.json()["statement_id"]
    assert month("2024-04")["invoiced_dkk"] == "0.00"

    # The citizen's right-of-access export over real processes: intake gathers the other two parts
    # with its own client-credentials token, and holds both statements' lines; no log has the CPR.
    export = httpx.post(
        f"{stack.urls['intake']}/v1/programmes/{programme_id}/access-exports",
        json={"cpr": "0707614285"},
        headers=jobcenter,
        timeout=30,
    )
    assert export.status_code == 200, export.text
    lines = export.json()["settlement"]["statement_lines"]
    assert {line["statement_id"] for line in lines} == {
        first.json()["statement_id"],
        second.json()["statement_id"],
    }
    assert [r["code"] for r in export.json()["progression"]["status_records"]] == ["employed", "sygedagpenge"]
    assert "access_export_made" in stack.log("intake").read_text()  # the logs are the processes'
    for name in ("intake", "progression", "settlement"):
        assert not re.search(r"070761-?4285", stack.log(name).read_text()), f"a CPR in {name}'s log"
