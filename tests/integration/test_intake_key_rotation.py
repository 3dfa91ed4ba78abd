"""Key rotation that finishes (`make rotate-keys`, `POST /v1/admin/rotate-keys`): CPR numbers stored
under key A and pseudonyms under HMAC key H1; the settings move to [B, A] and [H2, H1]; a rotation,
stopped after one batch and resumed, re-encrypts every row; then, with only B and H2 configured, every
CPR still decrypts and every lookup by CPR still finds its participant. Real database (SQLite and
PostgreSQL); no CPR in any log line."""

from __future__ import annotations

import base64
import copy
import json
import logging
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from libs.common.auth import Role
from libs.common.cpr import parse_cpr
from services.intake.main import create_app
from services.intake.models import CprAuditRow, ParticipantRow
from services.intake.rotate_keys import OPERATOR
from services.intake.rotate_keys import run as run_command
from services.intake.services.keys import rotate_keys
from services.intake.services.protection import CprProtection
from services.intake.settings import IntakeSettings
from tests.integration.conftest import SEED, ServiceClient, auth, running

PROGRAMMES = ("hedensted-2022", "aarhus-2025")
# Seven citizens, one in both programmes: eight rows, four batches of two.
CPRS = [
    "010190-1234",
    "020285-1235",
    "030375-2236",
    "040465-3237",
    "050555-4238",
    "060645-5239",
    "070735-6230",
]
KEY_A, KEY_B, KEY_C = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3))
HMAC_1, HMAC_2 = "rotation-test-hmac-key-one-0123456789", "rotation-test-hmac-key-two-0123456789"
JOBCENTER = auth(Role.jobcenter, *PROGRAMMES, subject="jobcenter")
ADMIN = auth(Role.admin, subject="ops")


def settings(
    nats_url: str, database: dict[str, Any], keys: list[str], hmac_keys: list[str]
) -> IntakeSettings:
    return IntakeSettings(
        sib_env="test",
        nats_url=nats_url,
        cpr_encryption_key=SecretStr(keys[0]),
        cpr_previous_encryption_keys=[SecretStr(key) for key in keys[1:]],
        cpr_hmac_key=SecretStr(hmac_keys[0]),
        cpr_previous_hmac_keys=[SecretStr(key) for key in hmac_keys[1:]],
        **database,
    )


async def enrol_everyone(client: ServiceClient) -> dict[str, str]:
    """The participant id of each (cpr, programme): every CPR in the first programme, the first CPR in
    the second too."""
    ids = {}
    for programme in PROGRAMMES:
        body = copy.deepcopy(SEED) | {"programme_id": programme}
        assert (await client.post("/v1/programmes", json=body, headers=ADMIN)).status_code == 201
    for cpr, programme in [(cpr, PROGRAMMES[0]) for cpr in CPRS] + [(CPRS[0], PROGRAMMES[1])]:
        body = {"programme_id": programme, "cpr": cpr, "track": "sygedagpenge", "referred_on": "2024-03-01"}
        response = await client.post("/v1/participants", json=body, headers=JOBCENTER)
        assert response.status_code == 201, response.text
        ids[f"{cpr}@{programme}"] = response.json()["participant_id"]
    return ids


async def every_cpr_decrypts_and_is_found(client: ServiceClient, ids: dict[str, str]) -> None:
    for name, participant_id in ids.items():
        cpr = name.split("@")[0]
        read = await client.get(f"/v1/participants/{participant_id}", headers=JOBCENTER)
        assert read.status_code == 200, (name, read.text)
        assert read.json()["cpr"] == cpr
        found = await client.post("/v1/participants/lookup", json={"cpr": cpr}, headers=JOBCENTER)
        assert found.status_code == 200, found.text
        assert participant_id in {item["participant_id"] for item in found.json()["items"]}
    batch = await client.post("/v1/participants/lookup-batch", json={"cprs": CPRS}, headers=JOBCENTER)
    assert batch.status_code == 200, batch.text
    found_ids = {p["participant_id"] for item in batch.json()["items"] for p in item["participants"]}
    assert found_ids == set(ids.values())


async def tokens(client: ServiceClient) -> dict[str, str]:
    async with client.app.state.database.sessionmaker() as session:
        rows = (
            await session.execute(select(ParticipantRow.participant_id, ParticipantRow.cpr_encrypted))
        ).all()
    return {pid: token for pid, token in rows}


async def test_a_rotation_stopped_after_one_batch_and_resumed_lets_the_old_keys_go(
    nats_url: str, database: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(create_app(settings(nats_url, database, [KEY_A], [HMAC_1])), "http://intake") as old:
        ids = await enrol_everyone(old)
        under_a = await tokens(old)
    rotating = settings(nats_url, database, [KEY_B, KEY_A], [HMAC_2, HMAC_1])
    async with running(create_app(rotating), "http://intake") as client:
        await every_cpr_decrypts_and_is_found(client, ids)  # before: every row under the old keys
        first = await rotate_keys(
            client.app.state.database,
            CprProtection.from_settings(rotating),
            OPERATOR,
            batch_size=2,
            max_batches=1,
        )
        assert (first.scanned, first.reencrypted, first.repseudonymised, first.batches) == (2, 2, 2, 1)
        assert first.next_after is not None
        await every_cpr_decrypts_and_is_found(client, ids)  # half-way: rows under either key
        assert await run_command(rotating, first.next_after, batch_size=2) == 0
        after = await tokens(client)
        assert set(after) == set(under_a) and all(after[pid] != under_a[pid] for pid in after)
        again = await client.post("/v1/admin/rotate-keys", json={}, headers=ADMIN)
        assert again.status_code == 200, again.text
        assert again.json() == {
            "scanned": len(ids),
            "reencrypted": 0,
            "repseudonymised": 0,
            "unreadable": 0,
            "batches": 1,
            "next_after": None,
        }
        async with client.app.state.database.sessionmaker() as session:
            audited = (
                await session.scalars(
                    select(CprAuditRow.detail).where(CprAuditRow.action == "rotate").order_by(CprAuditRow.seq)
                )
            ).all()
        assert audited[-1] == f"done scanned={len(ids)} reencrypted=0 repseudonymised=0 unreadable=0"
        assert any(d and "reencrypted=2 repseudonymised=2" in d for d in audited)
    async with running(create_app(settings(nats_url, database, [KEY_B], [HMAC_2])), "http://intake") as new:
        await every_cpr_decrypts_and_is_found(new, ids)
    for cpr in CPRS:
        assert cpr not in caplog.text and cpr.replace("-", "") not in caplog.text


async def test_without_the_rotation_the_old_key_cannot_go(nats_url: str, database: dict[str, Any]) -> None:
    """The other side of the test above: it proves something only if dropping A without rotating breaks:
    every read is a 409 (the number named nowhere) and no lookup finds anyone."""
    async with running(create_app(settings(nats_url, database, [KEY_A], [HMAC_1])), "http://intake") as old:
        ids = await enrol_everyone(old)
    async with running(create_app(settings(nats_url, database, [KEY_B], [HMAC_2])), "http://intake") as new:
        for participant_id in ids.values():
            read = await new.get(f"/v1/participants/{participant_id}", headers=JOBCENTER)
            assert read.status_code == 409, read.text
            assert read.json()["type"] == "urn:sib:problem:conflict"
            assert read.json()["participant_id"] == participant_id and "cpr" not in read.json()
        for cpr in CPRS:
            found = await new.post("/v1/participants/lookup", json={"cpr": cpr}, headers=JOBCENTER)
            assert (found.status_code, found.json()) == (200, {"items": []})
        batch = await new.post("/v1/participants/lookup-batch", json={"cprs": CPRS}, headers=JOBCENTER)
        assert batch.status_code == 200, batch.text
        assert [item["participants"] for item in batch.json()["items"]] == [[]] * len(CPRS)


async def test_a_row_under_a_key_no_longer_configured_is_counted_and_passed_over(
    nats_url: str,
    database: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first row by id holds a token under key C, configured nowhere: the command exits 1 and
    counts it, and rotates every row after it."""
    caplog.set_level(logging.DEBUG)
    async with running(create_app(settings(nats_url, database, [KEY_A], [HMAC_1])), "http://intake") as old:
        ids = await enrol_everyone(old)
    first_id, first_name = min((pid, name) for name, pid in ids.items())
    lost_key = CprProtection.from_settings(settings(nats_url, database, [KEY_C], [HMAC_1]))
    rotating = settings(nats_url, database, [KEY_B, KEY_A], [HMAC_2, HMAC_1])
    async with running(create_app(rotating), "http://intake") as client:
        async with client.app.state.database.sessionmaker() as session:
            row = await session.get_one(ParticipantRow, first_id)
            row.cpr_encrypted = lost_key.cipher.encrypt(parse_cpr(first_name.split("@")[0]), first_id)
            await session.commit()
        capsys.readouterr()
        assert await run_command(rotating, "", batch_size=2) == 1
        out = capsys.readouterr().out  # the log lines, then the report
        report = json.loads(out.splitlines()[-1])
        assert '"event": "cpr_token_not_rotated"' in out and all(cpr not in out for cpr in CPRS)
        assert (report["scanned"], report["reencrypted"], report["unreadable"]) == (len(ids), len(ids) - 1, 1)
        assert report["next_after"] is None
    async with running(create_app(settings(nats_url, database, [KEY_B], [HMAC_2])), "http://intake") as new:
        for name, participant_id in ids.items():
            read = await new.get(f"/v1/participants/{participant_id}", headers=JOBCENTER)
            if participant_id == first_id:
                assert read.status_code == 409, read.text
            else:
                assert (read.status_code, read.json()["cpr"]) == (200, name.split("@")[0]), read.text
    for cpr in CPRS:
        assert cpr not in caplog.text and cpr.replace("-", "") not in caplog.text


@pytest.mark.parametrize("role", [role for role in Role if role is not Role.admin])
async def test_only_the_admin_may_rotate_keys(intake: ServiceClient, role: Role) -> None:
    response = await intake.post("/v1/admin/rotate-keys", json={}, headers=auth(role, PROGRAMMES[0]))
    assert response.status_code == 403, response.text


async def test_a_retry_recorded_under_the_old_pseudonym_key_still_replays(
    nats_url: str, database: dict[str, Any]
) -> None:
    body = {
        "programme_id": PROGRAMMES[0],
        "cpr": CPRS[0],
        "track": "sygedagpenge",
        "referred_on": "2024-03-01",
    }
    retry = JOBCENTER | {"Idempotency-Key": "referral-1"}
    async with running(create_app(settings(nats_url, database, [KEY_A], [HMAC_1])), "http://intake") as old:
        programme = copy.deepcopy(SEED) | {"programme_id": PROGRAMMES[0]}
        assert (await old.post("/v1/programmes", json=programme, headers=ADMIN)).status_code == 201
        first = await old.post("/v1/participants", json=body, headers=retry)
        assert first.status_code == 201, first.text
    rotating = settings(nats_url, database, [KEY_B, KEY_A], [HMAC_2, HMAC_1])
    async with running(create_app(rotating), "http://intake") as client:
        again = await client.post("/v1/participants", json=body, headers=retry)
        assert again.status_code < 300, again.text
        assert again.json()["participant_id"] == first.json()["participant_id"]
        # Nor may the same citizen be referred twice while pseudonyms are under either key.
        twice = await client.post("/v1/participants", json=body, headers=JOBCENTER)
        assert twice.status_code == 409, twice.text
