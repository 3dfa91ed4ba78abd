"""A status batch naming participants progression has not heard of (a post that overtakes intake's
events) reads them all from intake in one call to its batch read, made with progression's own
identity before the records are stored, never one call per participant. Real database (SQLite and
PostgreSQL), real nats-servers: progression on one of its own, so it hears none of intake's events;
intake in-process behind a transport that counts progression's requests to it."""

from __future__ import annotations

import copy
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.common.clock import utcnow
from libs.common.cpr import parse_cpr
from services.intake.models import ParticipantRow as IntakeParticipantRow
from services.intake.services.protection import CprProtection
from services.progression.services import context
from tests.integration.conftest import SEED, Pair
from tests.integration.test_progression_cpr import ADMIN, BATCH, JOBCENTER, PROGRAMME, counted

READ_BATCH = ("POST", "/v1/participants/read-batch")


async def referred_at_intake(pair: Pair, count: int) -> list[str]:
    """``count`` citizens referred to the programme at intake: their participant ids. The rows are
    written to intake's database in one transaction (2,000 referrals through the API would take most
    of the test's time), as the referral writes them: CPR encrypted and bound to the row."""
    body = copy.deepcopy(SEED) | {"programme_id": PROGRAMME}
    assert (await pair.intake.post("/v1/programmes", json=body, headers=ADMIN)).status_code == 201
    protection: CprProtection = pair.intake.app.state.cpr_protection
    born, now = date(1950, 1, 1), utcnow()
    rows = []
    for n in range(count):
        cpr = parse_cpr(f"{born + timedelta(days=n // 9):%d%m%y}{1000 + n % 9:04d}")
        participant_id = str(uuid.uuid4())
        rows.append(
            IntakeParticipantRow(
                participant_id=participant_id,
                programme_id=PROGRAMME,
                track="sygedagpenge",
                status="referred",
                cpr_pseudonym=protection.pseudonym(cpr),
                cpr_encrypted=protection.cipher.encrypt(cpr, participant_id),
                referred_on=date(2024, 3, 1),
                created_at=now,
                updated_at=now,
            )
        )
    async with pair.intake.app.state.database.sessionmaker() as session:
        session.add_all(rows)
        await session.commit()
    return [row.participant_id for row in rows]


def records_naming(ids: list[str]) -> list[dict[str, Any]]:
    return [{"participant_id": pid, "code": "sygedagpenge", "valid_from": "2024-03-15"} for pid in ids]


async def test_a_batch_of_2000_participants_progression_has_not_heard_of_costs_one_call_to_intake(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    async with counted(tmp_path, database, share_events=False) as (pair, intake):
        ids = await referred_at_intake(pair, 2_000)
        intake.requests.clear()
        started = time.monotonic()
        response = await pair.progression.post(
            BATCH, json={"records": records_naming(ids)}, headers=JOBCENTER
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 201, response.text
        assert len(intake.requests) == 1, f"{len(intake.requests)} calls to intake in {elapsed:.1f} s"
        assert intake.calls() == [READ_BATCH]
        [call] = intake.requests
        # Progression's own identity (the jobcenter's token is not needed: no CPR is asked for).
        assert call.headers["authorization"] != JOBCENTER["Authorization"]
        assert sorted(httpx.Response(200, content=call.content).json()["participant_ids"]) == sorted(ids)
        assert [r["participant_id"] for r in response.json()["records"]] == ids

        # Kept: the next batch naming them needs no call at all.
        intake.requests.clear()
        again = [r | {"code": "employed", "valid_from": "2024-05-01"} for r in records_naming(ids)]
        response = await pair.progression.post(BATCH, json={"records": again}, headers=JOBCENTER)
        assert response.status_code == 201, response.text
        assert intake.calls() == []


async def test_more_ids_than_the_read_limit_go_in_one_call_per_chunk(
    tmp_path: Path, database: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with counted(tmp_path, database, share_events=False) as (pair, intake):
        ids = await referred_at_intake(pair, 5)
        monkeypatch.setattr(context, "READ_BATCH_MAX", 2)
        intake.requests.clear()
        response = await pair.progression.post(
            BATCH, json={"records": records_naming(ids)}, headers=JOBCENTER
        )
        assert response.status_code == 201, response.text
        assert intake.calls() == [READ_BATCH] * 3
        asked = [httpx.Response(200, content=r.content).json()["participant_ids"] for r in intake.requests]
        assert [len(chunk) for chunk in asked] == [2, 2, 1]
        assert sorted(pid for chunk in asked for pid in chunk) == sorted(ids)


async def test_a_participant_intake_does_not_know_is_refused_per_record_after_the_one_call(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    async with counted(tmp_path, database, share_events=False) as (pair, intake):
        ids = await referred_at_intake(pair, 3)
        stranger = str(uuid.uuid4())
        records = records_naming([ids[0], stranger, ids[1], stranger, ids[2]])
        intake.requests.clear()
        refused = await pair.progression.post(BATCH, json={"records": records}, headers=JOBCENTER)
        assert refused.status_code == 422, refused.text
        assert [(e["field"], e["message"]) for e in refused.json()["errors"]] == [
            ("records[1].participant_id", "no such participant in the programmes of this token"),
            ("records[3].participant_id", "no such participant in the programmes of this token"),
        ]
        assert intake.calls() == [READ_BATCH]
        # The participants intake knows were kept all the same: without the stranger, no further call.
        intake.requests.clear()
        stored = await pair.progression.post(BATCH, json={"records": records_naming(ids)}, headers=JOBCENTER)
        assert stored.status_code == 201, stored.text
        assert intake.calls() == []


async def test_an_intake_that_cannot_answer_is_a_503_not_an_unknown_participant(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    async with counted(tmp_path, database, share_events=False) as (pair, intake):
        ids = await referred_at_intake(pair, 2)
        intake.down = True
        response = await pair.progression.post(
            BATCH, json={"records": records_naming(ids)}, headers=JOBCENTER
        )
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "Retry-After" in response.headers
        intake.down = False
        response = await pair.progression.post(
            BATCH, json={"records": records_naming(ids)}, headers=JOBCENTER
        )
        assert response.status_code == 201, response.text
