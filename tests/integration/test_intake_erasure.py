"""Erasure in intake (issue 28): the jobcenter orders a withdrawn citizen erased, the job erases them,
and intake's database then holds the participant id only in the erasure record and the
participant.erased.v1 event; the job also erases, without an order, whoever's retention has passed.
Real database (SQLite and PostgreSQL) and nats-server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, select, text
from sqlalchemy.exc import DBAPIError

from libs.common.auth import Role
from libs.common.cpr import parse_cpr
from libs.common.db import Database
from services.intake.services.erasure import run_erasures
from tests.integration.conftest import SEED, ServiceClient, auth, eventually, outbox_events

PROGRAMME = "hedensted-2022"
CPR = "070761-4285"
OTHER_CPR = "0101901234"
JOBCENTER = auth(Role.jobcenter, PROGRAMME, subject="jc-erasure")
ADMIN = auth(Role.admin, subject="ops")
ORDER = {"reason_code": "data_subject_request", "reason": "The citizen asked to be forgotten"}
ERASED = "dk.sib.intake.participant.erased.v1"


async def refer(intake: ServiceClient, cpr: str, referred_on: str, *, key: str | None = None) -> str:
    headers = JOBCENTER | ({"Idempotency-Key": key} if key else {})
    body = {"programme_id": PROGRAMME, "cpr": cpr, "track": "sygedagpenge", "referred_on": referred_on}
    response = await intake.post("/v1/participants", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["participant_id"])


async def enrol(intake: ServiceClient, pid: str, on: str) -> None:
    body = {"enrolled_on": on, "consent_given_on": on}
    response = await intake.post(f"/v1/participants/{pid}/enrolment", json=body, headers=JOBCENTER)
    assert response.status_code == 200, response.text


async def withdraw(intake: ServiceClient, pid: str, on: str) -> None:
    body = {"effective_on": on, "reason": "consent_withdrawn"}
    response = await intake.post(f"/v1/participants/{pid}/withdrawal", json=body, headers=JOBCENTER)
    assert response.status_code == 200, response.text


async def every_row(database: Database) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table of intake's database, each value as text."""

    def read(connection: Connection) -> dict[str, list[tuple[str, ...]]]:
        metadata = MetaData()
        metadata.reflect(connection)
        return {
            name: [tuple(str(value) for value in row) for row in connection.execute(select(table))]
            for name, table in metadata.tables.items()
        }

    async with database.engine.connect() as connection:
        found = await connection.run_sync(read)
    assert {"participants", "cpr_audit", "outbox", "erasures", "idempotency_keys"} <= set(found)
    return found


async def test_an_ordered_erasure_leaves_the_participant_id_only_in_the_erasure_record_and_its_event(
    intake: ServiceClient,
) -> None:
    assert (await intake.post("/v1/programmes", json=SEED, headers=ADMIN)).status_code == 201
    pid = await refer(intake, CPR, "2024-03-01", key="erasure-test-key")
    await enrol(intake, pid, "2024-03-15")
    await withdraw(intake, pid, "2024-06-01")
    assert (await intake.get(f"/v1/participants/{pid}", headers=JOBCENTER)).json()["cpr"] == CPR
    found = await intake.post("/v1/participants/lookup", json={"cpr": CPR}, headers=JOBCENTER)
    assert [p["participant_id"] for p in found.json()["items"]] == [pid]
    in_window = await refer(intake, OTHER_CPR, "2026-10-20")
    await enrol(intake, in_window, "2026-11-01")
    order_path = f"/v1/participants/{pid}/erasure-order"

    refused = await intake.post(f"/v1/participants/{in_window}/erasure-order", json=ORDER, headers=JOBCENTER)
    assert refused.status_code == 409 and "window runs until 2028-10-31" in refused.json()["detail"]
    for role in (Role.provider, Role.investor, Role.finance, Role.admin):
        assert (await intake.post(order_path, json=ORDER, headers=auth(role, PROGRAMME))).status_code == 403
    for reason in (f"asked on behalf of {CPR}", "   "):
        invalid = await intake.post(order_path, json=ORDER | {"reason": reason}, headers=JOBCENTER)
        assert invalid.status_code == 422, invalid.text
        assert [e["field"] for e in invalid.json()["errors"]] == ["reason"]
        assert CPR not in invalid.text and CPR.replace("-", "") not in invalid.text

    ordered = await intake.post(order_path, json=ORDER, headers=JOBCENTER)
    assert ordered.status_code == 201, ordered.text
    order = ordered.json()
    assert (order["participant_id"], order["state"], order["basis"]) == (pid, "ordered", "order")
    assert order["ordered_by"] == "jc-erasure" and order["due"] is not None and order["erased_at"] is None
    again = await intake.post(order_path, json=ORDER, headers=JOBCENTER)
    assert (again.status_code, again.json()) == (200, order)
    other = await intake.post(order_path, json=ORDER | {"reason_code": "other"}, headers=JOBCENTER)
    assert other.status_code == 409

    # A referral ordered erased and enrolled afterwards: its order waits for the end of the window.
    enrolled_after = await refer(intake, "0202900000", "2026-10-20")
    held_path = f"/v1/participants/{enrolled_after}/erasure-order"
    assert (await intake.post(held_path, json=ORDER, headers=JOBCENTER)).status_code == 201
    await enrol(intake, enrolled_after, "2026-11-01")
    runs: list[dict[str, Any]] = []

    async def erased() -> bool:  # the job waits until the participant's events are published
        run = await intake.post("/v1/admin/erasures/run", headers=ADMIN)
        assert run.status_code == 200, run.text
        runs.append(run.json())
        return bool(run.json()["erased"])

    await eventually(erased)
    assert [e["participant_id"] for e in runs[-1]["erased"]] == [pid]
    assert runs[-1]["held"] == [enrolled_after]
    assert runs[-1]["erased"][0]["erasure_id"] == order["erasure_id"]
    rerun = await intake.post("/v1/admin/erasures/run", headers=ADMIN)
    assert rerun.json() == {"erased": [], "waiting": [], "held": [enrolled_after]}
    retried = await intake.post(order_path, json=ORDER, headers=JOBCENTER)
    assert retried.status_code == 200
    assert retried.json()["state"] == "erased" and retried.json()["reason"] is None

    assert (await intake.get(f"/v1/participants/{pid}", headers=JOBCENTER)).status_code == 404
    assert (await intake.get(f"/v1/participants/{pid}", headers=ADMIN)).status_code == 404
    coach = await intake.put(f"/v1/participants/{pid}/coach", json={"coach_name": "x"}, headers=JOBCENTER)
    assert coach.status_code == 404
    lookup = await intake.post("/v1/participants/lookup", json={"cpr": CPR}, headers=JOBCENTER)
    assert lookup.json()["items"] == []

    database: Database = intake.app.state.database
    pseudonym = intake.app.state.cpr_protection.pseudonym(parse_cpr(CPR))
    rows = await every_row(database)
    for needle in (pid, CPR, CPR.replace("-", ""), pseudonym):
        holding = {
            table: [row for row in table_rows if any(needle in value for value in row)]
            for table, table_rows in rows.items()
        }
        holding = {table: found for table, found in holding.items() if found}
        if needle != pid:
            assert holding == {}, needle
            continue
        assert set(holding) == {"erasures", "outbox"}, holding
        assert len(holding["erasures"]) == 1 and len(holding["outbox"]) == 1
        assert ERASED in holding["outbox"][0]
    events = [e for e in await outbox_events(intake) if e.type == ERASED]
    assert [(e.subject, e.data) for e in events] == [(f"participant/{pid}", {"participant_id": pid})]
    # The CPR audit keeps its rows, without the participant; nothing else about them may change.
    async with database.engine.connect() as connection:
        for statement in ("UPDATE cpr_audit SET actor = 'someone'", "DELETE FROM cpr_audit"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with connection.begin():
                    await connection.execute(text(statement))
        erase_audit = (
            await connection.execute(text("SELECT actor, detail FROM cpr_audit WHERE action = 'erase'"))
        ).all()
    assert [tuple(r) for r in erase_audit] == [("ops", f"erasure={order['erasure_id']} basis=order")]

    listed = await intake.get("/v1/erasures", headers=JOBCENTER)
    assert {(e["participant_id"], e["state"], e["reason_code"]) for e in listed.json()["items"]} == {
        (pid, "erased", "data_subject_request"),
        (enrolled_after, "ordered", "data_subject_request"),
    }
    elsewhere = auth(Role.jobcenter, "aarhus-2025")
    assert (await intake.get("/v1/erasures", headers=elsewhere)).json()["items"] == []
    assert (await intake.get("/v1/erasures", headers=auth(Role.provider, PROGRAMME))).status_code == 403
    # The citizen referred again is a new participant.
    assert await refer(intake, CPR, "2026-11-02") != pid


async def test_the_job_erases_whoever_retention_passed_a_day_ago_and_not_one_a_day_short(
    intake: ServiceClient,
) -> None:
    assert (await intake.post("/v1/programmes", json=SEED, headers=ADMIN)).status_code == 201
    # Windows end on 2023-06-10 (two of them: one enrolled, one never) and 2023-06-11; five years'
    # retention (the seed's default) passes after 2028-06-10 and 2028-06-11.
    ended_first = await refer(intake, CPR, "2022-10-01")
    await enrol(intake, ended_first, "2022-10-03")
    await withdraw(intake, ended_first, "2023-06-11")
    never_enrolled = await refer(intake, "0202900000", "2022-10-01")
    await withdraw(intake, never_enrolled, "2023-06-11")
    a_day_later = await refer(intake, OTHER_CPR, "2022-10-01")
    await enrol(intake, a_day_later, "2022-10-03")
    await withdraw(intake, a_day_later, "2023-06-12")
    database: Database = intake.app.state.database
    day = datetime(2028, 6, 11, 21, 30, tzinfo=UTC)  # 2028-06-11 23:30 in Copenhagen

    async def erased_on(now: datetime, expected: set[str]) -> None:
        done: set[str] = set()

        async def all_done() -> bool:  # two replicas' jobs at once: each participant erased once
            runs = await asyncio.gather(run_erasures(database, now=now), run_erasures(database, now=now))
            erased = [e.participant_id for run in runs for e in run.erased]
            assert len(erased) == len(set(erased)) and not done & set(erased)
            done.update(erased)
            return done >= expected

        await eventually(all_done)
        assert done == expected

    await erased_on(day - timedelta(days=1), set())  # 2028-06-10: nobody's retention has passed
    await erased_on(day, {ended_first, never_enrolled})
    assert (await intake.get(f"/v1/participants/{a_day_later}", headers=JOBCENTER)).status_code == 200
    await erased_on(day + timedelta(hours=1), {a_day_later})  # 2028-06-12 in Copenhagen
    listed = (await intake.get("/v1/erasures", headers=ADMIN)).json()["items"]
    assert {e["participant_id"] for e in listed} == {ended_first, never_enrolled, a_day_later}
    assert {(e["basis"], e["reason_code"], e["ordered_by"], e["due"]) for e in listed} == {
        ("retention", None, None, None)
    }
    events = [e.data["participant_id"] for e in await outbox_events(intake) if e.type == ERASED]
    assert sorted(events) == sorted([ended_first, never_enrolled, a_day_later])
