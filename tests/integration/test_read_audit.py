"""The read audit (libs/common/readaudit): a person-level read leaves a chained row naming who read
what, in which trace; the jobcenter and the auditor read it, nobody else; the verify command finds an
altered row; an erasure nulls the ids and the chain still verifies."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from deploy.ops.__main__ import main as ops_main
from libs.common.auth import Role
from libs.common.db import Database
from libs.common.readaudit import redact_participant, verify
from tests.integration.conftest import SEED, Pair, ServiceClient, auth
from tests.integration.test_progression import JOBCENTER, PROGRAMME, PROVIDER, enrolled_participant

TIMELINE = "GET /v1/participants/{participant_id}/timeline"
AUDITOR = auth(Role.auditor, PROGRAMME, subject="auditor-rigsrevisionen")


def _reads(pair: Pair, headers: dict[str, str], **params: str) -> Any:
    return pair.progression.get("/v1/audit/reads", params=params, headers=headers)


async def _all_rows(pair: Pair, **params: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await _reads(
            pair, JOBCENTER, programme_id=PROGRAMME, **params, **({"cursor": cursor} if cursor else {})
        )
        assert page.status_code == 200, page.text
        rows += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return rows


@contextlib.contextmanager
def _service_environment(settings: Any) -> Iterator[None]:
    """The environment the operator command reads its settings from: this test's database."""
    values = {"VAR_DIR": str(settings.var_dir)}
    if settings.is_postgres:
        values |= {
            "DATABASE_URL": settings.database_url,
            "DATABASE_SCHEMA": settings.resolved_database_schema,
        }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _verify_command(settings: Any) -> tuple[int, str]:
    out = io.StringIO()
    with _service_environment(settings), contextlib.redirect_stdout(out):
        status = ops_main(["verify-audit", "--service", "progression"])
    return status, out.getvalue()


async def test_a_providers_timeline_read_leaves_a_row_the_jobcenter_reads_and_verify_finds_it_altered(
    pair: Pair,
) -> None:
    pid = await enrolled_participant(pair)
    database: Database = pair.progression.app.state.database
    before = await _all_rows(pair)

    # A refused read (the investor) and a failed one (no such participant) write nothing.
    investor = auth(Role.investor, PROGRAMME)
    assert (
        await pair.progression.get(f"/v1/participants/{pid}/timeline", headers=investor)
    ).status_code == 403
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (
        await pair.progression.get(f"/v1/participants/{unknown}/timeline", headers=PROVIDER)
    ).status_code == 404
    assert await _all_rows(pair) == before

    trace_id = secrets.token_hex(16)
    traceparent = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    read = await pair.progression.get(f"/v1/participants/{pid}/timeline", headers=PROVIDER | traceparent)
    assert read.status_code == 200

    rows = await _all_rows(pair, participant_id=pid)
    row = rows[-1]
    assert row["sub"] == "provider-marselisborg"
    assert row["role"] == "provider"
    assert row["route"] == TIMELINE
    assert row["programme_id"] == PROGRAMME
    assert row["participant_ids"] == [pid]
    assert row["trace_id"] == trace_id
    # The auditor reads the same row; other programmes' rows are nobody's here.
    by_auditor = await _reads(pair, AUDITOR, participant_id=pid)
    assert by_auditor.status_code == 200
    assert by_auditor.json()["items"][-1] == row
    other = auth(Role.jobcenter, "another-programme")
    assert (await _reads(pair, other, programme_id=PROGRAMME)).status_code == 403
    assert (await _reads(pair, other)).json()["items"] == []
    for role in (Role.provider, Role.investor, Role.finance, Role.integrator, Role.admin):
        assert (await _reads(pair, auth(role, PROGRAMME))).status_code == 403, role

    result = await verify(database)
    assert result.intact and result.checked == row["seq"], result
    status, printed = await asyncio.to_thread(_verify_command, database.settings)
    assert (status, printed.strip()) == (0, f"progression read audit: {row['seq']} rows checked, intact")

    # The triggers refuse an UPDATE; an attacker with the database drops them first.
    async with database.engine.begin() as connection:
        with pytest.raises(Exception, match="append-only"):
            async with connection.begin_nested():
                await connection.execute(
                    text("UPDATE read_audit SET sub = 'nobody' WHERE seq = :s"), {"s": row["seq"]}
                )
    altered = row["seq"] - 1  # not the last row: the chain, not only the head, must show it
    async with database.engine.begin() as connection:
        if database.settings.is_postgres:
            await connection.execute(text("DROP TRIGGER read_audit_guard ON read_audit"))
        else:
            await connection.execute(text("DROP TRIGGER read_audit_no_update"))
        await connection.execute(
            text("UPDATE read_audit SET role = 'jobcenter' WHERE seq = :s"), {"s": altered}
        )
    result = await verify(database)
    assert result.broken is not None and result.broken.seq == altered, result
    status, printed = await asyncio.to_thread(_verify_command, database.settings)
    assert status == 1 and f"broken at seq {altered}:" in printed, printed


async def test_concurrent_reads_keep_the_chain_and_an_erasure_nulls_the_ids_without_breaking_it(
    pair: Pair,
) -> None:
    pid = await enrolled_participant(pair)
    database: Database = pair.progression.app.state.database
    paths = ["timeline", "status-records", "measurements", "milestones"] * 5
    answers = await asyncio.gather(
        *(pair.progression.get(f"/v1/participants/{pid}/{path}", headers=PROVIDER) for path in paths)
    )
    assert [a.status_code for a in answers] == [200] * len(paths)
    rows = await _all_rows(pair, participant_id=pid)
    assert sum(r["sub"] == "provider-marselisborg" for r in rows) == len(paths)
    result = await verify(database)
    assert result.intact, result
    seqs = [r["seq"] for r in await _all_rows(pair)]
    assert seqs == list(range(1, len(seqs) + 1))

    async with database.engine.begin() as connection:
        # Only the erasure's change passes the trigger: not a new id, not a changed digest, no delete.
        for statement in (
            "UPDATE read_audit_subjects SET participant_id = 'x' WHERE participant_id = :p",
            "UPDATE read_audit_subjects SET digest = 'x' WHERE participant_id = :p",
            "DELETE FROM read_audit_subjects WHERE participant_id = :p",
            "DELETE FROM read_audit_head",
        ):
            with pytest.raises(Exception, match=r"append-only|only moves"):
                async with connection.begin_nested():
                    await connection.execute(text(statement), {"p": pid})
    async with database.sessionmaker() as session, session.begin():
        assert await redact_participant(session, pid) >= len(paths)
    result = await verify(database)
    assert result.intact and result.checked == seqs[-1], result
    async with database.engine.connect() as connection:
        for table in ("read_audit", "read_audit_subjects", "read_audit_head"):
            dump = str((await connection.execute(text(f"SELECT * FROM {table}"))).all())  # noqa: S608
            assert pid not in dump, table
    assert await _all_rows(pair, participant_id=pid) == []
    assert rows[-1]["seq"] in {r["seq"] for r in await _all_rows(pair) if r["participant_ids"] == [None]}


async def test_intakes_list_and_single_reads_are_audited_and_the_auditor_sees_no_cpr(
    intake: ServiceClient,
) -> None:
    assert (await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))).status_code == 201
    pids = []
    for cpr in ("070761-4285", "010190-1234"):
        referral = {
            "programme_id": PROGRAMME,
            "cpr": cpr,
            "track": "sygedagpenge",
            "referred_on": "2024-03-01",
        }
        pids.append(
            (await intake.post("/v1/participants", json=referral, headers=JOBCENTER)).json()["participant_id"]
        )
    listed = await intake.get("/v1/participants", params={"programme_id": PROGRAMME}, headers=PROVIDER)
    one = await intake.get(f"/v1/participants/{pids[0]}", headers=AUDITOR)
    assert listed.status_code == one.status_code == 200
    assert one.json()["cpr"] is None and "4285" not in one.text
    rows = (await intake.get("/v1/audit/reads", headers=JOBCENTER)).json()["items"]
    assert [(r["role"], r["route"], sorted(r["participant_ids"])) for r in rows] == [
        ("provider", "GET /v1/participants", sorted(p["participant_id"] for p in listed.json()["items"])),
        ("auditor", "GET /v1/participants/{participant_id}", [pids[0]]),
    ]
    assert sorted(rows[0]["participant_ids"]) == sorted(pids)
    assert (await verify(intake.app.state.database)).intact
