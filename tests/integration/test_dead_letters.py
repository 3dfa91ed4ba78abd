"""Dead letters against a real nats-server and database: an event that fails every delivery, or can
never be read, lands in the dead-letter stream with its error; re-driving it after a fix applies it
once and removes it; the admin routes and the operator command show the same letters."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from libs.common.auth import Role
from libs.common.clock import utcnow
from libs.common.contracts import StatementIssuedV1
from libs.common.db import inbox_table
from libs.common.deadletters import list_dead_letters, redrive
from libs.common.events import new_event
from libs.common.nats import MSG_ID_HEADER, Outcome, dead_letter_stream
from services.settlement.main import create_app as create_settlement_app
from services.settlement.settings import SettlementSettings
from tests.integration.conftest import auth, eventually, running
from tests.integration.test_messaging import Backbone, backbone, drain

__all__ = ["backbone"]  # the fixture, imported for its use below

REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_event_failing_every_delivery_is_dead_lettered_with_its_error_and_redriven_once_fixed(
    backbone: Backbone,
) -> None:
    backbone.poison = "bad"
    event = await backbone.emit("bad")
    await backbone.relay.publish_pending()
    consumer = backbone.consumer()
    for _ in range(backbone.settings.consumer_max_deliver + 4):
        await drain(consumer, rounds=1)
        if await list_dead_letters(backbone.link.js, backbone.settings):
            break

    (letter,) = await list_dead_letters(backbone.link.js, backbone.settings)
    assert letter.consumer == "test-consumer"
    assert letter.event_id == event.id
    assert letter.event_type == event.type
    assert letter.deliveries == backbone.settings.consumer_max_deliver
    assert "this widget always fails" in letter.error
    assert letter.stream_seq == 1
    assert await backbone.effect_count() == 0
    # JetStream will not deliver it again: the letter is the only way back.
    assert await drain(consumer, rounds=1) == 0

    # Still broken: re-driving reports the failure and keeps the letter.
    (result,) = await redrive(backbone.database, backbone.link.js, [consumer.spec])
    assert result.outcome == "failed" and "always fails" in (result.error or "")
    assert len(await list_dead_letters(backbone.link.js, backbone.settings)) == 1

    backbone.poison = None  # the fix
    (result,) = await redrive(backbone.database, backbone.link.js, [consumer.spec])
    assert (result.outcome, result.event_id) == ("applied", event.id)
    assert await backbone.effect_count() == 1
    assert await list_dead_letters(backbone.link.js, backbone.settings) == []
    assert await redrive(backbone.database, backbone.link.js, [consumer.spec]) == []
    assert await backbone.effect_count() == 1


async def test_message_that_is_no_cloudevent_is_dead_lettered_at_once_and_stays_when_redriven(
    backbone: Backbone,
) -> None:
    await backbone.link.js.publish(
        "sib.testsvc.widget.counted.v1", b"not json at all", headers={MSG_ID_HEADER: "garbage-1"}
    )
    consumer = backbone.consumer()
    assert await drain(consumer, rounds=1) == 1
    (letter,) = await list_dead_letters(backbone.link.js, backbone.settings)
    assert letter.deliveries == 1 and letter.error.startswith("rejected: not a CloudEvent")
    assert letter.event is None
    (result,) = await redrive(backbone.database, backbone.link.js, [consumer.spec])
    assert result.outcome == "failed"
    assert len(await list_dead_letters(backbone.link.js, backbone.settings)) == 1


async def test_redriving_an_event_the_consumer_already_applied_is_a_duplicate_not_a_second_effect(
    backbone: Backbone,
) -> None:
    """A letter whose event was applied meanwhile (another path, another operator) has one effect."""
    backbone.poison = "bad"
    event = await backbone.emit("bad")
    await backbone.relay.publish_pending()
    consumer = backbone.consumer()
    for _ in range(backbone.settings.consumer_max_deliver + 4):
        await drain(consumer, rounds=1)
        if await list_dead_letters(backbone.link.js, backbone.settings):
            break
    (letter,) = await list_dead_letters(backbone.link.js, backbone.settings)
    backbone.poison = None
    assert await consumer.process(event) is Outcome.applied  # applied behind the letter's back
    (result,) = await redrive(backbone.database, backbone.link.js, [consumer.spec], ids=[letter.id])
    assert result.outcome == "duplicate"
    assert await list_dead_letters(backbone.link.js, backbone.settings) == []
    async with backbone.database.sessionmaker() as session:
        inbox = (await session.execute(select(func.count()).select_from(inbox_table))).scalar_one()
    assert inbox == 1 and await backbone.effect_count() == 1


@pytest.mark.slow_on("postgresql")  # the SQLite run stays in make test
async def test_settlement_lists_and_redrives_dead_letters_over_its_admin_api_and_the_command(
    nats_url: str, database: dict[str, Any]
) -> None:
    settings = SettlementSettings(
        sib_env="test", nats_url=nats_url, consumer_max_deliver=2, consumer_ack_wait_seconds=1, **database
    )
    # A statement.issued whose document does not hash to its sha256: settlement can never restore it.
    forged = new_event(
        StatementIssuedV1(
            statement_id=str(uuid.uuid4()),
            programme_id="hedensted-2022",
            period="2024-06",
            covers_through="2024-05",
            issued_at=utcnow(),
            net_dkk=0,
            cumulative_invoiced_dkk=0,
            investor_dkk=0,
            provider_dkk=0,
            sha256="0" * 64,
            terms_version=1,
            lines=[],
            totals={"net": 0},
        )
    )
    app = create_settlement_app(settings)
    async with running(app, "http://settlement") as settlement:
        js = await app.state.runtime.nats.wait_ready()
        await js.publish(
            "sib.settlement.statement.issued.v1", forged.to_json_bytes(), headers={MSG_ID_HEADER: forged.id}
        )

        async def listed() -> bool:
            response = await settlement.get("/v1/admin/dead-letters", headers=auth(Role.admin))
            return response.status_code == 200 and len(response.json()["items"]) == 1

        await eventually(listed, timeout=20)
        body = (await settlement.get("/v1/admin/dead-letters", headers=auth(Role.admin))).json()
        (item,) = body["items"]
        assert item["consumer"] == "settlement-statements"
        assert item["event_id"] == forged.id and item["deliveries"] == 2
        assert "does not match its sha256" in item["error"]
        assert body["next_after"] is None
        assert (
            await settlement.get("/v1/admin/dead-letters", headers=auth(Role.provider))
        ).status_code == 403
        bad_filter = await settlement.get("/v1/admin/dead-letters?consumer=a.b", headers=auth(Role.admin))
        assert bad_filter.status_code == 422 and bad_filter.json()["errors"][0]["field"] == "consumer"

        redriven = await settlement.post(
            "/v1/admin/dead-letters/redrive", json={"ids": [item["id"]]}, headers=auth(Role.admin)
        )
        assert redriven.status_code == 200
        assert (redriven.json()["applied"], redriven.json()["failed"]) == (0, 1)
        stream = await js.stream_info(dead_letter_stream(settings))
        assert stream.state.messages == 1

    # The operator command sees the same letter, with the service stopped.
    env = {**os.environ, "NATS_URL": nats_url, "VAR_DIR": str(settings.var_dir), "SIB_ENV": "test"}
    if settings.is_postgres:
        env |= {
            "DATABASE_URL": str(settings.database_url),
            "DATABASE_SCHEMA": settings.resolved_database_schema,
        }
    listing = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "deploy.ops", "dead-letters", "settlement"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    assert forged.id in listing.stdout and "1 dead letter(s) in settlement" in listing.stdout
    again = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "deploy.ops", "redrive", "settlement"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1 and "0 re-driven, 1 still failing" in again.stdout, again.stdout
