"""Progression holds no CPR key and no pseudonym: a jobcenter's CPR-based status posts are resolved by
intake's batch lookup, one call for a whole request, made with the jobcenter's own token. Real
database (SQLite and PostgreSQL), real nats-servers, intake in-process behind a transport that counts
progression's requests to it."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select

from deploy.local import free_port, start_nats
from libs.common.auth import Role
from libs.common.contracts import (
    ParticipantEnrolledV1,
    ParticipantEnrolledV2,
    ParticipantWithdrawnV2,
    WithdrawalReason,
)
from libs.common.events import EventPayload, new_event
from libs.common.uow import UnitOfWork
from services.intake.main import create_app as create_intake_app
from services.intake.settings import IntakeSettings
from services.progression.handlers import CONSUMERS
from services.progression.main import create_app as create_progression_app
from services.progression.models import ParticipantRow
from services.progression.services import context
from services.progression.settings import ProgressionSettings
from tests.integration.conftest import (
    SEED,
    Pair,
    auth,
    eventually,
    outbox_events,
    progression_database,
    running,
)

PROGRAMME, OTHER_PROGRAMME = "hedensted-2022", "aarhus-2025"
JOBCENTER = auth(Role.jobcenter, PROGRAMME, subject="jobcenter-hedensted")
NATIONAL = auth(Role.jobcenter, PROGRAMME, OTHER_PROGRAMME, subject="jobcenter-national")
ADMIN = auth(Role.admin, subject="ops")
BATCH = "/v1/status-records/batch"


class CountingTransport(httpx.AsyncBaseTransport):
    """Intake's ASGI app as progression sees it, every request progression makes to it noted."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("intake is down", request=request)
        return await self.inner.handle_async_request(request)

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


@asynccontextmanager
async def counted(
    tmp_path: Path, database: dict[str, Any], *, share_events: bool
) -> AsyncIterator[tuple[Pair, CountingTransport]]:
    """Intake and progression, progression's calls to intake counted. ``share_events``: on one
    nats-server, so progression learns the participants from intake's events; otherwise on their
    own, so it knows only what it asks intake."""
    processes = [start_nats("127.0.0.1", port := free_port(), tmp_path / "nats-i")]
    intake_nats = progression_nats = f"nats://127.0.0.1:{port}"
    if not share_events:
        processes.append(start_nats("127.0.0.1", port := free_port(), tmp_path / "nats-p"))
        progression_nats = f"nats://127.0.0.1:{port}"
    try:
        intake_app = create_intake_app(IntakeSettings(sib_env="test", nats_url=intake_nats, **database))
        async with running(intake_app, "http://intake") as intake:
            transport = CountingTransport(httpx.ASGITransport(app=intake_app))
            settings = ProgressionSettings(
                sib_env="test", nats_url=progression_nats, **progression_database(database)
            )
            async with running(
                create_progression_app(settings, intake_transport=transport), "http://progression"
            ) as progression:
                yield Pair(intake, progression), transport
    finally:
        for process in processes:
            process.stop()


def cpr_of(n: int) -> str:
    return f"{date(1960, 1, 1) + timedelta(days=n * 37):%d%m%y}-{1000 + n:04d}"


async def enrol_citizens(pair: Pair, count: int, programme: str = PROGRAMME) -> dict[str, str]:
    """``count`` citizens enrolled in ``programme``: participant id by CPR."""
    if (await pair.intake.get(f"/v1/programmes/{programme}", headers=ADMIN)).status_code == 404:
        body = copy.deepcopy(SEED) | {"programme_id": programme}
        assert (await pair.intake.post("/v1/programmes", json=body, headers=ADMIN)).status_code == 201
    ids = {}
    for n in range(count):
        referred = await pair.intake.post(
            "/v1/participants",
            json={
                "programme_id": programme,
                "cpr": cpr_of(n),
                "track": "sygedagpenge",
                "referred_on": "2024-03-01",
            },
            headers=NATIONAL,
        )
        assert referred.status_code == 201, referred.text
        ids[cpr_of(n)] = referred.json()["participant_id"]
    return ids


async def heard_of(pair: Pair, ids: list[str]) -> None:
    async def known() -> bool:
        for pid in ids:
            response = await pair.progression.get(f"/v1/participants/{pid}/status-records", headers=ADMIN)
            if response.status_code != 200:
                return False
        return True

    await eventually(known)


def records_for(ids: dict[str, str]) -> list[dict[str, Any]]:
    """Two records per citizen named by CPR (the second spelled without the hyphen), one by id."""
    records: list[dict[str, Any]] = []
    for cpr, pid in ids.items():
        records += [
            {"cpr": cpr, "code": "sygedagpenge", "valid_from": "2024-03-15", "valid_to": "2024-04-30"},
            {"cpr": cpr.replace("-", ""), "code": "employed", "valid_from": "2024-05-01"},
            {"participant_id": pid, "code": "employed", "iso_week": "2024-W30"},
        ]
    return records


@pytest.mark.parametrize("share_events", [True, False], ids=["heard-of", "not-heard-of"])
async def test_a_batch_naming_many_citizens_by_cpr_costs_one_call_to_intake(
    tmp_path: Path, database: dict[str, Any], share_events: bool
) -> None:
    """Whether progression has heard of the citizens or not: one batch lookup, nothing more."""
    async with counted(tmp_path, database, share_events=share_events) as (pair, intake):
        ids = await enrol_citizens(pair, 40)
        if share_events:
            await heard_of(pair, list(ids.values()))
        intake.requests.clear()
        response = await pair.progression.post(BATCH, json={"records": records_for(ids)}, headers=JOBCENTER)
        assert response.status_code == 201, response.text
        assert intake.calls() == [("POST", "/v1/participants/lookup-batch")]
        [call] = intake.requests
        assert call.headers["authorization"] == JOBCENTER["Authorization"]  # the jobcenter's own token
        asked = httpx.Response(200, content=call.content).json()["cprs"]
        assert sorted(asked) == sorted(ids)  # every distinct number once, however spelled
        stored = response.json()["records"]
        assert [r["participant_id"] for r in stored] == [pid for pid in ids.values() for _ in range(3)]
        # Intake's audit names the jobcenter for each citizen looked up on its behalf.
        trail = (await pair.intake.get("/v1/audit", params={"limit": 500}, headers=ADMIN)).json()["items"]
        lookups = {
            e["participant_id"] for e in trail if e["endpoint"] == "POST /v1/participants/lookup-batch"
        }
        assert lookups == set(ids.values())
        assert {e["actor"] for e in trail if e["action"] == "lookup"} == {"jobcenter-hedensted"}

        intake.requests.clear()
        by_id = [{"participant_id": pid, "code": "employed", "iso_week": "2024-W40"} for pid in ids.values()]
        if share_events:  # named by id, a participant progression knows needs no call
            response = await pair.progression.post(BATCH, json={"records": by_id}, headers=JOBCENTER)
            assert response.status_code == 201, response.text
            assert intake.calls() == []
        single = await pair.progression.post(
            "/v1/status-records",
            json={"cpr": next(iter(ids)), "code": "education", "valid_from": "2024-09-01"},
            headers=JOBCENTER,
        )
        assert single.status_code == 201, single.text
        assert intake.calls() == [("POST", "/v1/participants/lookup-batch")]


async def test_the_numbers_go_in_calls_of_at_most_the_lookup_limit(
    tmp_path: Path, database: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with counted(tmp_path, database, share_events=False) as (pair, intake):
        ids = await enrol_citizens(pair, 5)
        monkeypatch.setattr(context, "LOOKUP_BATCH_MAX", 2)
        intake.requests.clear()
        response = await pair.progression.post(BATCH, json={"records": records_for(ids)}, headers=JOBCENTER)
        assert response.status_code == 201, response.text
        assert intake.calls() == [("POST", "/v1/participants/lookup-batch")] * 3


async def test_unknown_ambiguous_and_invalid_cprs_keep_their_answers(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    async with counted(tmp_path, database, share_events=True) as (pair, intake):
        ids = await enrol_citizens(pair, 2)
        twice = next(iter(ids))
        await enrol_citizens(pair, 1, programme=OTHER_PROGRAMME)  # the first citizen in a second programme
        stranger, invalid = cpr_of(99), "3102901234"
        records = [
            {"cpr": twice, "code": "employed", "valid_from": "2024-05-01"},
            {"cpr": stranger, "code": "employed", "valid_from": "2024-05-01"},
            {"cpr": invalid, "code": "employed", "valid_from": "2024-05-01"},
            {"cpr": twice, "programme_id": OTHER_PROGRAMME, "code": "employed", "valid_from": "2024-05-01"},
        ]
        intake.requests.clear()
        refused = await pair.progression.post(BATCH, json={"records": records}, headers=NATIONAL)
        assert refused.status_code == 422, refused.text
        assert [(e["field"], e["message"]) for e in refused.json()["errors"]] == [
            ("records[0].programme_id", "the citizen is a participant of several programmes; name one"),
            ("records[1].cpr", "no such participant in the programmes of this token"),
            (
                "records[2].cpr",
                "the first six digits are not a real date (DDMMYY) in the century the 7th digit gives",
            ),
        ]
        assert intake.calls() == [("POST", "/v1/participants/lookup-batch")]  # the invalid one is not sent
        asked = httpx.Response(200, content=intake.requests[0].content).json()["cprs"]
        assert sorted(asked) == sorted([twice, stranger])
        for cpr in (twice, stranger, invalid):
            assert cpr not in refused.text and cpr.replace("-", "") not in refused.text

        # The jobcenter of one programme does not see the citizen's other participation: not ambiguous.
        single = await pair.progression.post("/v1/status-records", json=records[0], headers=JOBCENTER)
        assert single.status_code == 201 and single.json()["participant_id"] == ids[twice]
        other = await pair.progression.post("/v1/status-records", json=records[3], headers=JOBCENTER)
        assert other.status_code == 422 and other.json()["errors"][0]["field"] == "cpr"
        named = await pair.progression.post("/v1/status-records", json=records[3], headers=NATIONAL)
        assert named.status_code == 201 and named.json()["programme_id"] == OTHER_PROGRAMME


async def test_an_intake_that_cannot_answer_is_a_503_not_an_unknown_citizen(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    async with counted(tmp_path, database, share_events=True) as (pair, intake):
        ids = await enrol_citizens(pair, 1)
        await heard_of(pair, list(ids.values()))
        intake.down = True
        response = await pair.progression.post(
            "/v1/status-records",
            json={"cpr": next(iter(ids)), "code": "employed", "valid_from": "2024-05-01"},
            headers=JOBCENTER,
        )
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "Retry-After" in response.headers
        assert next(iter(ids)).replace("-", "") not in response.text
        # Named by id, a known participant needs no call: stored while intake is down.
        by_id = await pair.progression.post(
            "/v1/status-records",
            json={"participant_id": next(iter(ids.values())), "code": "employed", "valid_from": "2024-05-01"},
            headers=JOBCENTER,
        )
        assert by_id.status_code == 201, by_id.text


def test_progression_holds_no_cpr_key_and_intake_holds_them_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPR_HMAC_KEY", "x" * 40)
    monkeypatch.setenv("CPR_ENCRYPTION_KEY", "y" * 44)
    progression = ProgressionSettings()
    assert not [name for name in ProgressionSettings.model_fields if "cpr" in name or "pseudonym" in name]
    assert not [name for name in vars(progression) if "cpr" in name]
    assert "x" * 40 not in progression.model_dump_json()
    intake = IntakeSettings()
    assert intake.cpr_hmac_key.get_secret_value() == "x" * 40
    assert intake.cpr_encryption_key.get_secret_value() == "y" * 44
    assert intake.cpr_previous_encryption_keys == []


async def test_progression_keeps_no_pseudonym_in_its_tables_or_events(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    async with counted(tmp_path, database, share_events=True) as (pair, _):
        ids = await enrol_citizens(pair, 3)
        await heard_of(pair, list(ids.values()))
        response = await pair.progression.post(BATCH, json={"records": records_for(ids)}, headers=JOBCENTER)
        assert response.status_code == 201, response.text
        async with pair.progression.app.state.database.sessionmaker() as session:
            columns = await session.run_sync(
                lambda s: {
                    (table, c["name"])
                    for table in inspect(s.connection()).get_table_names()
                    for c in inspect(s.connection()).get_columns(table)
                }
            )
        assert ("participants", "participant_id") in columns  # the inspection sees the tables
        assert [c for c in columns if "cpr" in c[1] or "pseudonym" in c[1]] == []
        for event in await outbox_events(pair.progression):
            assert "pseudonym" not in event.model_dump_json()
            assert all(cpr.replace("-", "") not in event.model_dump_json() for cpr in ids)


async def test_the_participant_events_of_both_versions_are_taken_and_no_pseudonym_kept(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    """The stream still holds v1 events, which carry the pseudonym: progression takes them as it takes
    v2, through its consumer's handler, and keeps the pseudonym nowhere."""
    async with counted(tmp_path, database, share_events=False) as (pair, _):
        state = pair.progression.app.state
        old, new = str(uuid.uuid4()), str(uuid.uuid4())
        person = {"programme_id": PROGRAMME, "track": "sygedagpenge", "referred_on": date(2024, 3, 1)}
        enrolled = {"enrolled_on": date(2024, 3, 15), "consent_given_on": date(2024, 3, 10)}
        payloads: list[EventPayload] = [
            ParticipantEnrolledV1(participant_id=old, cpr_pseudonym="ab" * 32, **person, **enrolled),
            ParticipantEnrolledV2(participant_id=new, **person, **enrolled),
            ParticipantWithdrawnV2(
                participant_id=new, **person, enrolled_on=date(2024, 3, 15), effective_on=date(2024, 6, 1),
                reason=WithdrawalReason.moved_away,
            ),
        ]  # fmt: skip
        spec = next(s for s in CONSUMERS if s.name == "progression-participants")
        for payload in payloads:
            assert payload.event_type in spec.event_types
            async with UnitOfWork(state.database) as uow:
                await spec.handler(uow, new_event(payload, subject="participant/x"), payload)
                await uow.commit()
        async with state.database.sessionmaker() as session:
            rows = {r.participant_id: r for r in (await session.scalars(select(ParticipantRow))).all()}
        assert (rows[old].enrolled_on, rows[old].withdrawn_on) == (date(2024, 3, 15), None)
        assert (rows[new].enrolled_on, rows[new].withdrawn_on) == (date(2024, 3, 15), date(2024, 6, 1))
        assert not [name for name in ParticipantRow.__table__.columns.keys() if "pseudonym" in name]
