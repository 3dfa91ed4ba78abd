"""Rebuild and gap repair against a real nats-server and database (SQLite and PostgreSQL).

Rebuild: settlement's read model replayed from the stream into an empty database equals the live one
(months, statements with their sha256, copies). Gap repair: a status.recorded event lost from the
stream leaves a hole in the participant's recording sequence, and settlement fills it from
progression's REST API.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy import func, select, update

from deploy.ops import rebuild, service_ops
from libs.common.clock import as_utc, utcnow
from libs.common.db import Database
from libs.common.metrics import GAP_RESYNCS
from libs.common.migrations import upgrade_head_async
from libs.common.nats import connect_options
from libs.common.uow import UnitOfWork
from services.settlement.main import MIGRATIONS as SETTLEMENT_MIGRATIONS
from services.settlement.main import create_app as create_settlement_app
from services.settlement.models import MonthRow, SequenceGapRow, StatusRecordRow
from services.settlement.services.gaps import repair_due
from services.settlement.settings import SettlementSettings
from tests.integration.conftest import Trio, eventually, intake_and_progression, running
from tests.integration.test_settlement import (
    ADMIN,
    JOBCENTER,
    PROGRAMME,
    PROVIDER,
    cutoff,
    enrol,
    months,
    status,
    wait_for_fee,
)
from tests.integration.test_settlement_invoices import FINANCE, invoices, publish_parties
from tests.issuing import issue
from tests.pg_roles import beside


async def settlement_caught_up(trio: Trio) -> None:
    """Every outbox row of every service published and every consumer of settlement drained."""
    runtime = trio.settlement.app.state.runtime

    async def drained() -> bool:
        for client in (trio.intake, trio.progression, trio.settlement):
            if await client.app.state.runtime.relay.pending(limit=1):
                return False
        js = runtime.nats.js
        for consumer in runtime.consumers:
            info = await js.consumer_info(runtime.settings.nats_stream, consumer.durable)
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    await eventually(drained, timeout=30)


@pytest.mark.slow_on("postgresql")  # the SQLite run stays in make test
async def test_settlement_rebuilt_from_the_stream_into_an_empty_database_is_identical(trio: Trio) -> None:
    first = await enrol(trio, "070761-4285")
    second = await enrol(trio, "010190-1234", enrolled_on="2024-04-02")
    await status(trio, first, "sygedagpenge", "2024-03-15", "2024-04-30")
    await status(trio, first, "employed", "2024-05-01")
    await status(trio, second, "employed", "2024-04-02", "2024-06-30")
    await cutoff(trio, "2024-07-31")
    await wait_for_fee(trio, first, "2024-07", "3500.00")
    await publish_parties(trio)  # so each statement makes invoices
    issued = await issue(trio.settlement, PROGRAMME, "2024-08", ADMIN)
    assert issued.status_code == 201
    # A late correction of invoiced months, then a statement with adjustment lines.
    await status(trio, first, "kontanthjaelp", "2024-06-01", "2024-06-30")
    await wait_for_fee(trio, first, "2024-06", "0.00")
    adjusted = await issue(trio.settlement, PROGRAMME, "2024-09", ADMIN)
    assert any(line["kind"] == "adjustment" for line in adjusted.json()["lines"])
    # Entered over REST, carried on no stream: a rebuild copies it over.
    assumptions = await trio.settlement.put(
        f"/v1/programmes/{PROGRAMME}/economic-assumptions",
        json={
            "weekly_rates": {"sygedagpenge": {"2024": "4695"}, "jobafklaring": {"2024": "3780"}},
            "refund_staircase": [{"from_week": 1, "refund_percent": "50"}],
        },
        headers=ADMIN,
    )
    assert assumptions.status_code == 200, assumptions.text
    made = await invoices(trio)
    assert len(made) >= 3 and all(i["parties_version"] == 1 for i in made), made
    # A payment (on the stream), a dispute opened and withdrawn and an open draft (copied over).
    first_invoice = next(i for i in made if i["statement_id"] == issued.json()["statement_id"])
    paid = await trio.settlement.post(
        f"/v1/invoices/{first_invoice['invoice_id']}/payments",
        json={"amount": "100.00", "paid_on": "2024-09-20", "bank_reference": "BANK-1"},
        headers=FINANCE,
    )
    assert paid.status_code == 201, paid.text
    line_no = next(x["line_no"] for x in adjusted.json()["lines"] if x["kind"] in ("fee", "adjustment"))
    opened = await trio.settlement.post(
        f"/v1/statements/{adjusted.json()['statement_id']}/disputes",
        json={"line_no": line_no, "reason_code": "status_wrong", "text": "Sick 10-12 June."},
        headers=PROVIDER,
    )
    assert opened.status_code == 201, opened.text
    withdrawn = await trio.settlement.post(
        f"/v1/disputes/{opened.json()['dispute_id']}/withdrawal", headers=PROVIDER
    )
    assert withdrawn.status_code == 200, withdrawn.text
    drafted = await trio.settlement.post(
        f"/v1/programmes/{PROGRAMME}/statements", json={"period": "2024-10"}, headers=JOBCENTER
    )
    assert drafted.status_code == 201, drafted.text
    await settlement_caught_up(trio)

    # The operator's NATS user replays the stream (a service's may use only its own consumers).
    live_settings = trio.settlement.app.state.settings.model_copy(update={"nats_user": "operator"})
    ops = service_ops("settlement")
    stats, report = await rebuild(ops, live_settings)

    assert stats.skipped == 0 and stats.applied == stats.events > 0
    # Each statement: one statement.lines.v1 part (its few lines), then its statement.issued.v2, then
    # an invoice.issued.v1 per invoice; and the payment.recorded.v1.
    assert stats.per_consumer["settlement-statements"] == 4 + len(made) + 1
    for table_name, counts in report.items():
        assert counts["only_live"] == counts["only_rebuilt"] == 0, (table_name, counts)
    assert report["statements"]["same"] == 2
    assert (
        report["statement_lines"]["same"] == len(issued.json()["lines"]) + len(adjusted.json()["lines"]) > 0
    )
    assert report["participant_months"]["same"] == len(await months(trio, first)) + len(
        await months(trio, second)
    )
    assert report["status_records"]["same"] == 4
    assert report["economic_assumptions"]["same"] == 1
    # Invoices, their counters and payments from the stream; drafts and disputes copied over.
    assert report["invoices"]["same"] == len(made)
    assert report["invoice_counters"]["same"] == 2  # the provider's and the investor's series
    assert report["invoice_payments"]["same"] == 1
    assert report["statement_drafts"]["same"] == 3
    assert report["disputes"]["same"] == report["dispute_lines"]["same"] == 1
    assert report["dispute_steps"]["same"] == 2  # opened, withdrawn
    # The read audit (the fee waits read months) copied over, its chain's head moved to the live one's.
    assert report["read_audit"]["same"] > 0 and report["read_audit_head"]["same"] == 1

    # The comparison sees a difference when there is one: change one live month and compare again.
    live = Database(live_settings)
    try:
        async with UnitOfWork(live) as uow:
            await uow.session.execute(
                update(MonthRow)
                .where(MonthRow.participant_id == first, MonthRow.month == "2024-05")
                .values(fee_dkk="1.00")
            )
            await uow.commit()
    finally:
        await live.dispose()
    _, again = await rebuild(ops, live_settings)
    assert again["participant_months"]["only_live"] == again["participant_months"]["only_rebuilt"] == 1


@pytest.mark.slow_on("postgresql")  # the SQLite run stays in make test
async def test_a_lost_status_event_is_noticed_as_a_sequence_gap_and_resynced_from_progression(
    nats_url: str, database: dict[str, Any]
) -> None:
    settlement_db = beside(database, "_s")
    async with intake_and_progression(nats_url, nats_url, database) as pair:
        trio_like = Trio(pair.intake, pair.progression, pair.intake)  # enrol() and status() need two
        pid = await enrol(trio_like, "070761-4285")
        await status(trio_like, pid, "sygedagpenge", "2024-03-15", "2024-04-30")
        await status(trio_like, pid, "kontanthjaelp", "2024-05-01", "2024-05-31")  # recording_seq 2
        await status(trio_like, pid, "employed", "2024-06-01")
        await cutoff(trio_like, "2024-06-30")

        # Lose seq 2 on the way: delete its event from the stream before settlement reads it.
        runtime = pair.progression.app.state.runtime

        async def published() -> bool:
            return not await runtime.relay.pending(limit=1)

        await eventually(published)
        # An event lost from the stream: only the operator may delete one.
        operator = await nats.connect(
            nats_url, **connect_options(runtime.settings.model_copy(update={"nats_user": "operator"}))
        )
        js = operator.jetstream()
        lost = None
        seq = 1
        while True:
            raw = await js.get_msg(
                runtime.settings.nats_stream, seq=seq, subject="sib.progression.status.recorded.v1", next=True
            )
            assert raw.data is not None and raw.seq is not None
            if json.loads(raw.data)["data"]["recording_seq"] == 2:
                lost = raw.seq
                break
            seq = raw.seq + 1
        assert lost is not None
        await js.delete_msg(runtime.settings.nats_stream, lost)
        await operator.close()

        repaired_before = GAP_RESYNCS.labels("settlement", "repaired")._value.get()
        settings = SettlementSettings(
            sib_env="test", nats_url=nats_url, gap_grace_seconds=0.3, **settlement_db
        )
        app = create_settlement_app(
            settings, progression_transport=httpx.ASGITransport(app=pair.progression.app)
        )
        async with running(app, "http://settlement") as settlement:

            async def resynced() -> bool:
                async with UnitOfWork(app.state.database) as uow:
                    held = (
                        await uow.session.execute(
                            select(func.count())
                            .select_from(StatusRecordRow)
                            .where(StatusRecordRow.participant_id == pid)
                        )
                    ).scalar_one()
                    gaps = (
                        await uow.session.execute(select(func.count()).select_from(SequenceGapRow))
                    ).scalar_one()
                return held == 3 and gaps == 0

            await eventually(resynced, timeout=20)
            response = await settlement.get(f"/v1/participants/{pid}/months", headers=JOBCENTER)
            by_month = {m["month"]: m for m in response.json()["items"]}
            # May is kontanthjaelp (public support) only because the lost record came back.
            assert by_month["2024-05"]["fee_dkk"] == "0.00"
            assert by_month["2024-05"]["public_support_days"] == 31
            assert by_month["2024-06"]["fee_dkk"] == "3500.00"
        assert GAP_RESYNCS.labels("settlement", "repaired")._value.get() == repaired_before + 1


class PoisonedProgression:
    """Progression's answers as gap repair reads them: the first participant's records cannot be read
    (an answer settlement cannot apply), the others' are empty."""

    def __init__(self, poisoned: str) -> None:
        self.poisoned = poisoned
        self.asked: list[str] = []

    async def records(self, participant_id: str) -> list[dict[str, Any]]:
        self.asked.append(participant_id)
        if participant_id == self.poisoned:
            raise OverflowError("date value out of range")
        return []


async def test_one_participant_whose_repair_fails_does_not_hold_up_the_others(
    database: dict[str, Any],
) -> None:
    settings = SettlementSettings(sib_env="test", **beside(database, "_s"))
    await upgrade_head_async(settings, SETTLEMENT_MIGRATIONS)
    db = Database(settings)
    poisoned, other = str(uuid.uuid4()), str(uuid.uuid4())
    due = utcnow() - timedelta(minutes=1)
    try:
        async with UnitOfWork(db) as uow:
            for pid, when in ((poisoned, due - timedelta(seconds=1)), (other, due)):  # the poisoned first
                uow.session.add(
                    SequenceGapRow(
                        participant_id=pid, detected_at=when, highest_seq=3, records_held=2, attempts=0,
                        next_attempt_at=when,
                    )
                )  # fmt: skip
            await uow.commit()
        source = PoisonedProgression(poisoned)
        assert await repair_due(db, source) == 2
        assert source.asked == [poisoned, other]
        async with UnitOfWork(db) as uow:
            gap = await uow.session.get(SequenceGapRow, poisoned)
            assert gap is not None and gap.attempts == 1 and as_utc(gap.next_attempt_at) > utcnow()
        # The next round asks only for what is due: the poisoned participant waits its back-off.
        again = PoisonedProgression(poisoned)
        await repair_due(db, again)
        assert poisoned not in again.asked
    finally:
        await db.dispose()
