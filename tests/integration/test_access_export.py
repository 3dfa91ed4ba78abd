"""A citizen's right of access (GDPR art. 15) with the three services beside each other (real database,
real nats-server): the programme's jobcenter asks intake with the CPR, intake gathers progression's
and settlement's parts with its own service identity, and the one document holds each of the citizen's
items and nothing of another citizen's; nobody else may ask; no CPR reaches a log line or an event.

One system per database, one test: the setup (two citizens through months, a statement and a dispute)
is most of the cost, and every promise here is checked against the same export."""

from __future__ import annotations

import html
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import nats.js.errors
import pytest

from libs.common.auth import Role
from libs.common.contracts import INDICATORS
from libs.common.nats import connect_options
from services.intake.main import create_app as create_intake_app
from services.intake.settings import IntakeSettings
from services.progression.main import create_app as create_progression_app
from services.progression.settings import ProgressionSettings
from services.settlement.main import create_app as create_settlement_app
from services.settlement.settings import SettlementSettings
from tests.integration.conftest import (
    SEED,
    Later,
    ServiceClient,
    Trio,
    auth,
    eventually,
    progression_database,
    running,
)
from tests.integration.test_settlement import (
    JOBCENTER,
    PROGRAMME,
    PROVIDER,
    cutoff,
    enrol,
    status,
    wait_for_fee,
)
from tests.issuing import issue
from tests.pg_roles import beside

CPR = "070761-4285"
OTHER_CPR = "150585-2468"
CPR_PATTERN = re.compile(r"0707614285|070761-?4285|150585-?2468|1505852468")
EXPORT = f"/v1/programmes/{PROGRAMME}/access-exports"


@pytest.fixture
async def system(nats_url: str, database: dict[str, Any]) -> AsyncIterator[Trio]:
    """The three services in-process on one nats-server, each with its own database; intake reaches
    progression and settlement (its export's peers) in-process too."""
    intake_later = Later()
    progression_app = create_progression_app(
        ProgressionSettings(sib_env="test", nats_url=nats_url, **progression_database(database)),
        intake_transport=httpx.ASGITransport(app=intake_later),
    )
    settlement_app = create_settlement_app(
        SettlementSettings(sib_env="test", nats_url=nats_url, **beside(database, "_s")),
        progression_transport=httpx.ASGITransport(app=progression_app),
    )
    intake_app = create_intake_app(
        IntakeSettings(sib_env="test", nats_url=nats_url, **database),
        peer_transports={
            "progression": httpx.ASGITransport(app=progression_app),
            "settlement": httpx.ASGITransport(app=settlement_app),
        },
    )
    intake_later.app = intake_app
    async with (
        running(intake_app, "http://intake") as intake,
        running(progression_app, "http://progression") as progression,
        running(settlement_app, "http://settlement") as settlement,
    ):
        yield Trio(intake, progression, settlement)


async def stream_texts(trio: Trio, nats_url: str) -> list[str]:
    """Every message on the SIB stream once every service's relay has published its outbox (read as
    the operator, who may read single messages)."""
    for client in (trio.intake, trio.progression, trio.settlement):
        relay = client.app.state.runtime.relay

        async def published(relay: Any = relay) -> bool:
            return not await relay.pending(limit=1)

        await eventually(published)
    settings = trio.intake.app.state.runtime.settings.model_copy(update={"nats_user": "operator"})
    operator = await nats.connect(nats_url, **connect_options(settings))
    texts: list[str] = []
    try:
        js = operator.jetstream()
        last = (await js.stream_info(settings.nats_stream)).state.last_seq
        for seq in range(1, last + 1):
            try:
                raw = await js.get_msg(settings.nats_stream, seq=seq)
            except nats.js.errors.NotFoundError:
                continue
            texts.append((raw.data or b"").decode() + json.dumps(dict(raw.headers or {})))
    finally:
        await operator.close()
    return texts


async def citizen(trio: Trio, cpr: str) -> str:
    pid = await enrol(trio, cpr)
    await status(trio, pid, "sygedagpenge", "2024-03-15", "2024-04-30")
    await status(trio, pid, "employed", "2024-05-01")
    return pid


async def test_the_jobcenter_gets_everything_of_one_citizen_and_nothing_of_another_and_no_cpr_leaks(
    system: Trio, nats_url: str
) -> None:
    trio = system
    root = logging.getLogger()
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        pid, other = await citizen(trio, CPR), await citizen(trio, OTHER_CPR)
        await cutoff(trio, "2024-07-31")
        for who in (pid, other):
            await wait_for_fee(trio, who, "2024-07", "3500.00")
            await trio.progression.post(
                f"/v1/participants/{who}/measurements",
                json={"measured_on": "2024-05-20", "scores": dict.fromkeys(INDICATORS, 6)},
                headers=PROVIDER,
            )
        measured = await trio.progression.get(f"/v1/participants/{pid}/measurements", headers=JOBCENTER)
        [measurement] = measured.json()["items"]
        milestone = await trio.progression.post(
            f"/v1/participants/{pid}/milestones",
            json={"kind": "job_start", "on": "2024-05-01", "note": "Starts at the <bakery> & café"},
            headers=PROVIDER,
        )
        assert milestone.status_code == 201, milestone.text
        records = (
            await trio.progression.get(f"/v1/participants/{pid}/status-records", headers=JOBCENTER)
        ).json()["items"]
        issued = await issue(trio.settlement, PROGRAMME, "2024-08", JOBCENTER)
        assert issued.status_code == 201, issued.text
        statement = issued.json()
        own_lines = [x for x in statement["lines"] if x["participant_id"] == pid]
        assert own_lines and any(x["participant_id"] == other for x in statement["lines"])
        dispute = await trio.settlement.post(
            f"/v1/statements/{statement['statement_id']}/disputes",
            json={
                "reason_code": "status_wrong",
                "text": "Sick 10-12 June",
                "line_no": own_lines[0]["line_no"],
            },
            headers=PROVIDER,
        )
        assert dispute.status_code == 201, dispute.text
        # A cell (month and kind) covers both citizens: the export shows only the first's line of it.
        last_month = own_lines[-1]["month"]
        cell = await trio.settlement.post(
            f"/v1/statements/{statement['statement_id']}/disputes",
            json={
                "reason_code": "status_wrong",
                "text": "The whole month",
                "month": last_month,
                "kind": "fee",
            },
            headers=auth(Role.investor, PROGRAMME),
        )
        assert cell.status_code == 201, cell.text
        # A provider reads the citizen's timeline: the export shows who saw their data (the read audit).
        timeline = await trio.progression.get(f"/v1/participants/{pid}/timeline", headers=PROVIDER)
        assert timeline.status_code == 200, timeline.text
        await stream_texts(trio, nats_url)  # everything so far published: what follows is the export's
        logged_before = len(captured.getvalue())

        answer = await trio.intake.post(EXPORT, json={"cpr": CPR}, headers=JOBCENTER)
        assert answer.status_code == 200, answer.text
        page = await trio.intake.post(f"{EXPORT}?format=html", json={"cpr": CPR}, headers=JOBCENTER)
        negotiated = await trio.intake.post(
            EXPORT, json={"cpr": CPR}, headers=JOBCENTER | {"Accept": "text/html"}
        )
        refused = {
            role: (
                await trio.intake.post(EXPORT, json={"cpr": CPR}, headers=auth(role, PROGRAMME))
            ).status_code
            for role in (Role.provider, Role.investor, Role.admin, Role.intake_service)
        }
        elsewhere = await trio.intake.post(
            EXPORT, json={"cpr": CPR}, headers=auth(Role.jobcenter, "another-programme")
        )
        unknown = await trio.intake.post(EXPORT, json={"cpr": "010190-1234"}, headers=JOBCENTER)
        direct = await trio.progression.get(f"/v1/participants/{pid}/personal-data", headers=JOBCENTER)
        direct_settlement = await trio.settlement.get(
            f"/v1/participants/{pid}/personal-data", headers=auth(Role.admin)
        )
        stream = await stream_texts(trio, nats_url)
    finally:
        root.removeHandler(handler)

    document = answer.json()
    text = answer.text
    assert other not in text and not re.search(r"150585-?2468|1505852468", text), "another citizen's data"
    assert document["programme"]["legal_basis"] and document["programme"]["retention_years"] == 5
    intake = document["intake"]
    assert (intake["participant"]["participant_id"], intake["participant"]["cpr"]) == (pid, CPR)
    assert (intake["participant"]["enrolled_on"], intake["participant"]["consent_given_on"]) == (
        "2024-03-15",
        "2024-03-10",
    )
    assert [(a["action"], a["endpoint"]) for a in intake["cpr_audit"]][-1] == (
        "access-export",
        "POST /v1/programmes/{programme_id}/access-exports",
    )
    # The export's own read (the first request; later ones are not in this document).
    assert [(r["sub"], r["role"], r["route"]) for r in intake["read_audit"]] == [
        ("jobcenter-hedensted", "jobcenter", "POST /v1/programmes/{programme_id}/access-exports")
    ]
    progression = document["progression"]
    assert [(r["record_id"], r["recorded_by"]) for r in progression["status_records"]] == [
        (r["record_id"], "jobcenter-hedensted") for r in records
    ]
    assert {p["code"] for p in progression["timeline"]["periods"]} >= {"sygedagpenge", "employed"}
    assert [m["measurement_id"] for m in progression["measurements"]] == [measurement["measurement_id"]]
    assert [(m["milestone_id"], m["note"]) for m in progression["milestones"]] == [
        (milestone.json()["milestone_id"], "Starts at the <bakery> & café")
    ]
    reads = {(r["role"], r["route"]) for r in progression["read_audit"]}
    assert ("provider", "GET /v1/participants/{participant_id}/timeline") in reads
    assert ("jobcenter", "GET /v1/participants/{participant_id}/status-records") in reads
    settlement = document["settlement"]
    assert ("jobcenter", "GET /v1/participants/{participant_id}/months") in {
        (r["role"], r["route"]) for r in settlement["read_audit"]
    }
    july = next(m for m in settlement["months"] if m["month"] == "2024-07")
    assert (july["fee_dkk"], july["self_supporting_days"], july["provisional"]) == ("3500.00", 31, False)
    assert [
        (x["statement_id"], x["line_no"], x["month"], x["amount_dkk"]) for x in settlement["statement_lines"]
    ] == [(statement["statement_id"], x["line_no"], x["month"], x["amount_dkk"]) for x in own_lines]
    disputed, cell_disputed = settlement["disputes"]
    assert [(x["line_no"], x["month"]) for x in cell_disputed["lines"]] == [
        (x["line_no"], x["month"]) for x in own_lines if x["month"] == last_month
    ]
    assert (disputed["dispute_id"], disputed["text"], disputed["state"]) == (
        dispute.json()["dispute_id"],
        "Sick 10-12 June",
        "open",
    )
    assert [s["step"] for s in disputed["steps"]] == ["opened"]
    assert [x["line_no"] for x in disputed["lines"]] == [own_lines[0]["line_no"]]

    for rendered in (page, negotiated):
        assert rendered.status_code == 200 and rendered.headers["content-type"].startswith("text/html")
        for item in (
            records[0]["record_id"],
            measurement["measurement_id"],
            milestone.json()["milestone_id"],
            statement["statement_id"],
            dispute.json()["dispute_id"],
            html.escape(document["programme"]["legal_basis"]),
            "Starts at the &lt;bakery&gt; &amp; café",
        ):
            assert item in rendered.text, item
        assert "<bakery>" not in rendered.text and other not in rendered.text

    assert refused == dict.fromkeys(refused, 403)
    assert elsewhere.status_code == 403
    assert unknown.status_code == 404 and "010190" not in unknown.text
    # Each request is audited, the one that found no one too (no participant named).
    trail = (await trio.intake.get("/v1/audit?limit=1000", headers=auth(Role.admin))).json()["items"]
    exports = [(a["participant_id"], a["actor"]) for a in trail if a["action"] == "access-export"]
    assert exports == [(pid, "jobcenter-hedensted")] * 3 + [(None, "jobcenter-hedensted")]
    # The parts are for intake's service identity only.
    assert (direct.status_code, direct_settlement.status_code) == (403, 403)

    logs = captured.getvalue()
    assert "access_export_made" in logs[logged_before:]  # the logs were captured
    assert not CPR_PATTERN.search(logs), "a CPR number in a log line"
    assert stream and not any(CPR_PATTERN.search(message) for message in stream), "a CPR in an event"


async def test_a_service_that_does_not_answer_fails_the_export_with_a_503_naming_it(
    intake: ServiceClient,
) -> None:
    """Intake alone: progression answers (a stand-in), settlement cannot be reached."""
    assert (await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))).status_code == 201
    referred = await intake.post(
        "/v1/participants",
        json={"programme_id": PROGRAMME, "cpr": CPR, "track": "sygedagpenge", "referred_on": "2024-03-01"},
        headers=JOBCENTER,
    )
    assert referred.status_code == 201

    def progression(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"service": "progression", "status_records": []})

    def settlement(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("settlement is down", request=request)

    def garbled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>a proxy's page</html>")

    sources = intake.app.state.personal_data_sources
    for answers, failing in (
        ((progression, settlement), "settlement"),
        ((garbled, progression), "progression"),
    ):
        for name, answer in zip(("progression", "settlement"), answers, strict=True):
            await sources.clients[name].aclose()
            sources.clients[name] = httpx.AsyncClient(
                base_url=f"http://{name}", transport=httpx.MockTransport(answer)
            )
        response = await intake.post(EXPORT, json={"cpr": CPR}, headers=JOBCENTER)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["service"] == failing
        assert not {"intake", "progression", "settlement"} & set(problem), "a partial document"
        assert CPR not in response.text
