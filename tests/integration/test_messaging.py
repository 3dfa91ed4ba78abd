"""The event backbone against a real nats-server and a real database (SQLite and PostgreSQL):
outbox -> relay -> JetStream -> durable pull consumer -> inbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import APIError, NoStreamResponseError
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, func, insert, select, update
from sqlalchemy.exc import OperationalError

from libs.common.clock import utcnow
from libs.common.db import Database, messaging_metadata, outbox_cursor_table, outbox_table
from libs.common.events import CloudEvent, EventPayload, new_event, register
from libs.common.metrics import OUTBOX_DUPLICATES, OUTBOX_PRUNED, OUTBOX_PUBLISHED
from libs.common.nats import ConsumerSpec, EventConsumer, NatsLink, Outcome
from libs.common.outbox import OutboxRelay, unpublished
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork
from tests.integration.conftest import create_tables, eventually


@register
class WidgetCountedV1(EventPayload):
    event_type = "dk.sib.testsvc.widget.counted.v1"
    widget: str
    count: int


test_metadata = MetaData()
effects = Table(
    "effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("widget", String(50), nullable=False),
)


@dataclass
class Backbone:
    settings: CommonSettings
    database: Database
    link: NatsLink
    relay: OutboxRelay
    handler_calls: list[str] = field(default_factory=list)
    fail_first: int = 0
    database_down_for: int = 0
    poison: str | None = None
    batches: list[int] = field(default_factory=list)
    # Held by every handler call until as many have arrived: deliveries that overlap.
    together: asyncio.Barrier | None = None

    async def handler(self, uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
        self.handler_calls.append(event.id)
        if self.together is not None:
            await asyncio.wait_for(self.together.wait(), timeout=10)
        assert isinstance(payload, WidgetCountedV1)
        if payload.widget == self.poison:
            raise RuntimeError("this widget always fails")
        if len(self.handler_calls) <= self.database_down_for:
            raise OperationalError("INSERT INTO effects", {}, ConnectionRefusedError("database unreachable"))
        await uow.session.execute(insert(effects).values(event_id=event.id, widget=payload.widget))
        if len(self.handler_calls) <= self.fail_first:
            raise RuntimeError("handler failed after writing its effect (simulated)")

    def consumer(self, name: str = "test-consumer", batched: bool = False) -> EventConsumer:
        spec = ConsumerSpec(
            name=name,
            event_types=[WidgetCountedV1.event_type],
            handler=self.handler,
            after_batch=self.after_batch if batched else None,
        )
        return EventConsumer(spec, self.database, self.link)

    async def after_batch(self, uow: UnitOfWork) -> None:
        self.batches.append(len(self.handler_calls))

    async def emit(self, widget: str = "w", count: int = 1) -> CloudEvent:
        event = new_event(WidgetCountedV1(widget=widget, count=count), subject=f"widget/{widget}")
        async with UnitOfWork(self.database) as uow:
            uow.emit(event)
            await uow.commit()
        return event

    async def settled_info(self, durable: str) -> Any:
        """The consumer's state once the server has taken in the acks sent so far. An ack is a plain
        publish that the server applies on its own time, so a consumer_info right after it may still
        count the message as pending (seen once in a full run); give it up to two seconds."""
        deadline = time.monotonic() + 2
        while True:
            info = await self.link.js.consumer_info(self.settings.nats_stream, durable)
            if info.num_ack_pending == 0 or time.monotonic() > deadline:
                return info
            await asyncio.sleep(0.02)

    async def stream_messages(self) -> int:
        info = await self.link.js.stream_info(self.settings.nats_stream)
        return int(info.state.messages)

    async def effect_count(self) -> int:
        async with self.database.sessionmaker() as session:
            return int((await session.execute(select(func.count()).select_from(effects))).scalar_one())

    async def outbox_count(self) -> int:
        async with self.database.sessionmaker() as session:
            return int((await session.execute(select(func.count()).select_from(outbox_table))).scalar_one())


@pytest.fixture
async def backbone(nats_url: str, database: dict[str, Any]) -> AsyncIterator[Backbone]:
    settings = CommonSettings(
        service_name="testsvc",
        nats_url=nats_url,
        consumer_ack_wait_seconds=1.0,
        consumer_max_deliver=3,
        consumer_outage_max_delay_seconds=0.05,
        **database,
    )
    db = Database(settings)
    await create_tables(db, messaging_metadata, test_metadata)
    link = NatsLink(settings)
    await link.connect()
    try:
        yield Backbone(settings, db, link, OutboxRelay(db, link))
    finally:
        await link.close()
        await db.dispose()


async def drain(consumer: EventConsumer, rounds: int = 3) -> int:
    handled = 0
    for _ in range(rounds):
        msgs = await consumer.fetch(timeout=0.5)
        for msg in msgs:
            await consumer.handle(msg)
            handled += 1
    return handled


async def test_committed_outbox_row_is_published_as_exactly_one_message(backbone: Backbone) -> None:
    event = await backbone.emit("a")

    assert await backbone.relay.publish_pending() == 1
    assert await backbone.relay.publish_pending() == 0  # marked published: not sent again
    assert await backbone.stream_messages() == 1

    consumer = backbone.consumer()
    msgs = await consumer.fetch(timeout=1)
    assert len(msgs) == 1
    assert msgs[0].headers is not None and msgs[0].headers["Nats-Msg-Id"] == event.id
    assert msgs[0].subject == "sib.testsvc.widget.counted.v1"
    received = CloudEvent.from_json_bytes(msgs[0].data)
    assert received.id == event.id and received.data == {"widget": "a", "count": 1}


async def test_relay_publishing_the_same_row_twice_is_a_duplicate_and_the_consumer_acts_once(
    backbone: Backbone,
) -> None:
    await backbone.emit("b")
    [row] = await backbone.relay.pending()

    first = await backbone.relay.publish_row(row)
    second = await backbone.relay.publish_row(row)  # as after a crash before marking the row published

    assert first.duplicate is not True
    assert second.duplicate is True
    assert second.seq == first.seq
    assert await backbone.stream_messages() == 1
    consumer = backbone.consumer()
    assert await drain(consumer) == 1
    assert await backbone.effect_count() == 1


async def test_consumer_dying_after_commit_before_ack_gets_a_redelivery_that_changes_nothing(
    backbone: Backbone,
) -> None:
    await backbone.emit("c")
    await backbone.relay.publish_pending()

    doomed = backbone.consumer()
    [msg] = await doomed.fetch(timeout=1)
    outcome = await doomed.process(CloudEvent.from_json_bytes(msg.data))  # effect committed, never acked
    assert outcome is Outcome.applied
    assert await backbone.effect_count() == 1

    await asyncio.sleep(backbone.settings.consumer_ack_wait_seconds + 0.3)  # ack_wait runs out
    survivor = backbone.consumer()
    [redelivered] = await survivor.fetch(timeout=2)
    assert redelivered.metadata.num_delivered == 2
    assert await survivor.process(CloudEvent.from_json_bytes(redelivered.data)) is Outcome.duplicate
    await redelivered.ack()
    assert await backbone.effect_count() == 1
    assert len(backbone.handler_calls) == 1


async def test_two_deliveries_of_one_event_at_once_apply_it_once_and_the_later_is_a_duplicate(
    backbone: Backbone,
) -> None:
    if not backbone.settings.is_postgres:
        pytest.skip(
            "SQLite has one writer at a time: a second delivery waits for the first to commit and then "
            "finds the event in the inbox, the plain duplicate path"
        )
    event = new_event(WidgetCountedV1(widget="twice", count=1))
    consumer = backbone.consumer()
    # Both deliveries pass the inbox check and run the handler before either commits; the later
    # one's inbox row then collides with the earlier's.
    backbone.together = asyncio.Barrier(2)

    outcomes = await asyncio.gather(consumer.process(event), consumer.process(event))

    assert sorted(outcomes) == [Outcome.applied, Outcome.duplicate]
    assert backbone.handler_calls == [event.id, event.id]  # both got past the inbox check
    assert await backbone.effect_count() == 1  # the duplicate's effect was rolled back


async def test_one_event_twice_in_a_batch_is_applied_once_and_the_second_is_a_duplicate(
    backbone: Backbone,
) -> None:
    event = new_event(WidgetCountedV1(widget="twice", count=1))
    payload = WidgetCountedV1(widget="twice", count=1)
    consumer = backbone.consumer(batched=True)

    async with UnitOfWork(backbone.database) as uow:
        outcomes = await consumer.apply_events(uow, [(event, payload), (event, payload)])
        await uow.commit()

    assert outcomes == [Outcome.applied, Outcome.duplicate]
    assert backbone.handler_calls == [event.id]
    assert await backbone.effect_count() == 1
    async with UnitOfWork(backbone.database) as uow:
        assert await uow.handled_among(consumer.durable, [event.id]) == {event.id}


async def test_consumer_failing_before_commit_is_retried_and_applies_once(backbone: Backbone) -> None:
    backbone.fail_first = 1  # the handler writes its effect, then raises: the transaction rolls back
    await backbone.emit("d")
    await backbone.relay.publish_pending()

    consumer = backbone.consumer()
    assert await drain(consumer, rounds=4) == 2  # the failed delivery, then the nak'd redelivery
    assert len(backbone.handler_calls) == 2
    assert await backbone.effect_count() == 1


async def test_redelivery_is_bounded_by_max_deliver(backbone: Backbone) -> None:
    backbone.fail_first = 100  # always fails
    await backbone.emit("e")
    await backbone.relay.publish_pending()

    consumer = backbone.consumer()
    await drain(consumer, rounds=8)
    assert len(backbone.handler_calls) == backbone.settings.consumer_max_deliver
    assert await backbone.effect_count() == 0
    info = await backbone.settled_info(consumer.durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_rolled_back_transaction_leaves_no_event(backbone: Backbone) -> None:
    event = new_event(WidgetCountedV1(widget="f", count=1))
    with pytest.raises(RuntimeError):
        async with UnitOfWork(backbone.database) as uow:
            await uow.session.execute(insert(effects).values(event_id=event.id, widget="f"))
            uow.emit(event)
            raise RuntimeError("use case failed")

    assert await backbone.outbox_count() == 0
    assert await backbone.effect_count() == 0
    assert await backbone.relay.publish_pending() == 0
    assert await backbone.stream_messages() == 0


async def test_uncommitted_unit_of_work_leaves_no_event(backbone: Backbone) -> None:
    async with UnitOfWork(backbone.database) as uow:
        uow.emit(new_event(WidgetCountedV1(widget="g", count=1)))
        # leaves the block without commit()
    assert await backbone.outbox_count() == 0


async def test_events_arrive_in_commit_order_and_each_applies_once(backbone: Backbone) -> None:
    emitted = [await backbone.emit(f"w{i}", i) for i in range(25)]
    counted = OUTBOX_PUBLISHED.labels(backbone.settings.service_name, "dk.sib.testsvc.widget.counted.v1")
    published_before = counted._value.get()
    assert await backbone.relay.publish_pending() == 25
    assert counted._value.get() - published_before == 25  # the metric counts every row of the pass
    consumer = backbone.consumer()
    assert await drain(consumer) == 25
    assert backbone.handler_calls == [e.id for e in emitted]
    # Delivering the whole history again (a replay) changes nothing.
    for event in emitted:
        assert await consumer.process(event) is Outcome.duplicate
    assert await backbone.effect_count() == 25


async def test_a_message_that_is_not_a_cloudevent_is_terminated_not_retried(backbone: Backbone) -> None:
    await backbone.link.js.publish(
        "sib.testsvc.widget.counted.v1", b"not json", headers={"Nats-Msg-Id": "junk-1"}
    )
    consumer = backbone.consumer()
    assert await drain(consumer, rounds=3) == 1
    assert backbone.handler_calls == []
    info = await backbone.settled_info(consumer.durable)
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def test_relay_and_consumer_loops_deliver_without_manual_steps(backbone: Backbone) -> None:
    consumer = backbone.consumer()
    tasks = [asyncio.create_task(backbone.relay.run()), asyncio.create_task(consumer.run())]
    try:
        await backbone.emit("loop")
        for _ in range(100):
            if await backbone.effect_count() == 1:
                break
            await asyncio.sleep(0.05)
        assert await backbone.effect_count() == 1
    finally:
        backbone.relay.stop()
        consumer.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)


async def test_a_database_outage_is_waited_out_without_using_up_deliveries(backbone: Backbone) -> None:
    backbone.database_down_for = backbone.settings.consumer_max_deliver + 2  # more than max_deliver tries
    await backbone.emit("outage")
    await backbone.relay.publish_pending()

    consumer = backbone.consumer()
    [msg] = await consumer.fetch(timeout=1)
    await consumer.handle(msg)

    assert len(backbone.handler_calls) == backbone.database_down_for + 1
    assert msg.metadata.num_delivered == 1
    assert await backbone.effect_count() == 1
    info = await backbone.settled_info(consumer.durable)
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def test_a_batch_is_applied_in_one_transaction_with_one_after_batch_call(backbone: Backbone) -> None:
    for i in range(10):
        await backbone.emit(f"b{i}", i)
    await backbone.relay.publish_pending()
    consumer = backbone.consumer(batched=True)
    msgs = await consumer.fetch(timeout=1)
    assert len(msgs) == 10
    await consumer.handle_batch(msgs)
    assert backbone.batches == [10]  # once, after all ten events
    assert await backbone.effect_count() == 10
    info = await backbone.settled_info(consumer.durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_failing_batch_falls_back_to_one_event_at_a_time(backbone: Backbone) -> None:
    backbone.poison = "bad"
    for widget in ("a", "bad", "c"):
        await backbone.emit(widget)
    await backbone.relay.publish_pending()
    consumer = backbone.consumer(batched=True)
    await consumer.handle_batch(await consumer.fetch(timeout=1))
    # The batch rolled back; one at a time, the good events applied and the bad one was nak'd.
    assert await backbone.effect_count() == 2
    info = await backbone.link.js.consumer_info(backbone.settings.nats_stream, consumer.durable)
    assert info.num_ack_pending + info.num_pending >= 1


async def test_an_idle_consumer_takes_a_lone_event_at_once_and_a_backlog_in_batches(
    backbone: Backbone,
) -> None:
    """A lone event is fetched as soon as it is published, though the consumer pulls for a whole batch
    (the server ends the pull when nothing more waits: settlement's POST -> months latency relies on
    it); what waits already comes as one batch."""
    consumer = backbone.consumer(batched=True)
    await consumer.subscribe()

    async def publish_once_the_pull_waits() -> None:
        async def pull_waiting() -> bool:
            info = await backbone.link.js.consumer_info(backbone.settings.nats_stream, consumer.durable)
            return bool(info.num_waiting)

        await eventually(pull_waiting)
        await backbone.emit("lone")
        await backbone.relay.publish_pending()

    publishing = asyncio.create_task(publish_once_the_pull_waits())
    # The pull asks for a whole batch and may wait a minute for it: it must end with the lone event,
    # not at its expiry.
    msgs = await asyncio.wait_for(consumer.fetch(timeout=60), timeout=20)
    await publishing
    assert len(msgs) == 1
    await consumer.handle_batch(msgs)  # one message: applied on its own
    for i in range(20):
        await backbone.emit(f"w{i}")
    await backbone.relay.publish_pending()
    await asyncio.sleep(0.1)
    msgs = await consumer.fetch()
    assert len(msgs) == 20


async def test_a_pass_republished_after_a_crash_is_all_duplicates_and_a_missing_stream_publishes_nothing(
    backbone: Backbone,
) -> None:
    """The relay's pass collects every JetStream ack on one subscription: a pass sent again (the relay
    died before marking it) is acknowledged as duplicates and adds nothing to the stream; with no stream
    to take the subject nothing is marked published."""
    for i in range(30):
        await backbone.emit(f"r{i}")
    assert await backbone.relay.publish_pending() == 30
    # The database as it was before the pass was marked (a row's mark, or the cursor on SQLite), and
    # a relay started again.
    async with backbone.database.sessionmaker() as session:
        await session.execute(update(outbox_table).values(published_at=None))
        await session.execute(delete(outbox_cursor_table))
        await session.commit()
    relay = OutboxRelay(backbone.database, backbone.link)
    duplicates = OUTBOX_DUPLICATES.labels("testsvc")
    before = duplicates._value.get()
    assert await relay.publish_pending() == 30
    assert duplicates._value.get() - before == 30
    assert await backbone.stream_messages() == 30
    assert await relay.pending() == []

    await backbone.link.js.delete_stream(backbone.settings.nats_stream)
    await backbone.emit("lost")
    with pytest.raises(NoStreamResponseError):
        await relay.publish_pending()
    assert len(await relay.pending()) == 1

    # Another stream takes the subjects: each ack is an error (not the stream the relay expects).
    await backbone.link.js.add_stream(StreamConfig(name="OTHER", subjects=["sib.>"]))
    with pytest.raises(APIError, match="expected stream does not match"):
        await relay.publish_pending()
    assert len(await relay.pending()) == 1


async def test_a_backlog_is_fetched_ahead_and_a_graceful_stop_applies_what_was_fetched(
    backbone: Backbone,
) -> None:
    """While a full batch is applied the next one is fetched; stopping then applies the batch already
    fetched, so no message is left for a redelivery, and the rest stays waiting in the stream."""
    for i in range(23):
        await backbone.emit(f"p{i}")
    await backbone.relay.publish_pending()
    consumer: EventConsumer | None = None
    applying = False
    fetches: list[bool] = []  # per fetch: did it start while a batch was being applied?

    async def after_batch(uow: UnitOfWork) -> None:
        assert consumer is not None
        await asyncio.sleep(0.2)  # long enough for the fetch ahead to come back
        backbone.batches.append(len(backbone.handler_calls))
        if len(backbone.batches) == 1:
            consumer.stop()

    backbone.after_batch = after_batch  # type: ignore[method-assign]
    consumer = backbone.consumer(batched=True)
    consumer.settings = consumer.settings.model_copy(update={"consumer_batch_step_size": 5})
    fetch, handle_batch = consumer.fetch, consumer.handle_batch

    async def watched_fetch(batch: int | None = None, timeout: float = 1.0) -> list[Any]:
        fetches.append(applying)
        return await fetch(batch, timeout)

    async def watched_handle_batch(msgs: list[Any]) -> None:
        nonlocal applying
        applying = True
        try:
            await handle_batch(msgs)
        finally:
            applying = False

    consumer.fetch = watched_fetch  # type: ignore[method-assign]
    consumer.handle_batch = watched_handle_batch  # type: ignore[method-assign]
    await asyncio.wait_for(consumer.run(), timeout=10)

    assert backbone.batches == [5, 10]  # the first batch, then the one fetched ahead of the stop
    assert fetches == [False, True]  # the first fetch, then one ahead while the first batch applied
    assert len(set(backbone.handler_calls)) == len(backbone.handler_calls) == 10
    assert await backbone.effect_count() == 10
    info = await backbone.settled_info(consumer.durable)
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    assert info.num_pending == 13


async def rows_held(backbone: Backbone) -> dict[str, bool]:
    """Each outbox row's event id, and whether it is published."""
    async with backbone.database.sessionmaker() as session:
        rows = await session.execute(select(outbox_table.c.event_id, unpublished()))
        return {event_id: not pending for event_id, pending in rows}


async def written_days_ago(backbone: Backbone, days: float, *events: CloudEvent) -> None:
    async with backbone.database.sessionmaker() as session:
        await session.execute(
            update(outbox_table)
            .where(outbox_table.c.event_id.in_([event.id for event in events]))
            .values(created_at=utcnow() - timedelta(days=days))
        )
        await session.commit()


async def test_published_rows_are_pruned_after_the_retention_and_unpublished_rows_never(
    backbone: Backbone,
) -> None:
    old = [await backbone.emit(f"old-{n}") for n in range(3)]
    assert await backbone.relay.publish_pending() == 3
    stuck = await backbone.emit("stuck")  # written long ago and never published (NATS away since)
    recent = await backbone.emit("recent")
    later_old = await backbone.emit("later-old")
    async with backbone.database.sessionmaker() as session:
        await session.execute(
            update(outbox_table)
            .where(outbox_table.c.event_id.in_([recent.id, later_old.id]))
            .values(published_at=utcnow())
        )
        await session.commit()
    await written_days_ago(backbone, 8, *old, stuck, later_old)  # the retention is 7 days
    pruned = OUTBOX_PRUNED.labels(backbone.settings.service_name)
    before = pruned._value.get()

    # On SQLite the row at the relay's cursor (the last of the old ones) stays.
    at_cursor = {} if backbone.settings.is_postgres else {old[-1].id: True}
    assert await backbone.relay.prune(chunk=2) == 2  # a chunk at a time, oldest first
    assert await backbone.relay.prune(chunk=2) == 1 - len(at_cursor)
    assert await backbone.relay.prune(chunk=2) == 0
    assert pruned._value.get() - before == 3 - len(at_cursor)
    # The stuck row waits to be published; the recent one is kept. A row written after the first
    # row still kept is kept with it (pruning never looks past that row), whatever its age.
    assert await rows_held(backbone) == at_cursor | {stuck.id: False, recent.id: True, later_old.id: True}
    # The stuck row is still published, then pruned.
    assert await backbone.relay.publish_pending() == 1
    await written_days_ago(backbone, 8, recent)
    if backbone.settings.is_postgres:
        assert await backbone.relay.prune() == 3
        assert await rows_held(backbone) == {}
    else:  # SQLite keeps the row at the relay's cursor (the stuck one, published last)
        assert await backbone.relay.prune() == 3
        assert list(await rows_held(backbone)) == [stuck.id]


async def test_the_relay_prunes_on_its_own_and_a_retention_of_zero_keeps_everything(
    backbone: Backbone,
) -> None:
    old = [await backbone.emit(f"old-{n}") for n in range(5)]
    await written_days_ago(backbone, 2, *old)

    keeping = backbone.settings.model_copy(update={"outbox_retention_hours": 0})
    keeper = OutboxRelay(Database(keeping), backbone.link)
    try:
        assert await keeper.publish_pending() == 5
        assert await keeper.prune() == 0
    finally:
        await keeper.database.dispose()
    assert len(await rows_held(backbone)) == 5

    # A day's retention, looked at every 50 ms: the loop publishes the new row and deletes the old
    # ones, a chunk of two per pass.
    pruning = backbone.settings.model_copy(
        update={"outbox_retention_hours": 24, "outbox_prune_interval_seconds": 0.05}
    )
    relay = OutboxRelay(Database(pruning), backbone.link)
    relay.PRUNE_CHUNK = 2
    task = asyncio.create_task(relay.run())
    try:
        new = await backbone.emit("new")
        for _ in range(100):
            if await rows_held(backbone) == {new.id: True}:
                break
            await asyncio.sleep(0.05)
        assert await rows_held(backbone) == {new.id: True}
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=5)
        await relay.database.dispose()


async def test_a_look_finds_its_bound_once_and_deletes_below_it_a_chunk_per_pass(
    backbone: Backbone, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = [await backbone.emit(f"old-{n}") for n in range(5)]
    assert await backbone.relay.publish_pending() == 5
    await written_days_ago(backbone, 8, *old)
    relay = backbone.relay
    relay.PRUNE_CHUNK = 2
    bounds: list[int] = []
    find_bound = relay.prune_bound

    async def counted() -> int:
        bounds.append(await find_bound())
        return bounds[-1]

    monkeypatch.setattr(relay, "prune_bound", counted)
    held = []
    for _ in range(4):  # as the relay's loop calls it between passes
        await relay._prune_when_due()
        held.append(len(await rows_held(backbone)))
    # 2, 2 and the last 1 in one look (on SQLite the row at the cursor stays); the fourth pass comes
    # before the next look is due.
    assert held == ([3, 1, 0, 0] if backbone.settings.is_postgres else [3, 1, 1, 1])
    assert len(bounds) == 1


async def test_a_row_written_after_the_look_is_not_pruned_with_the_rows_before_it(backbone: Backbone) -> None:
    """The bound a look finds serves several passes; a row written and published meanwhile is not below
    it (when no row had been written since the cut-off, the bound used to be "everything")."""
    old = [await backbone.emit(f"old-{n}") for n in range(3)]
    await written_days_ago(backbone, 2, *old)
    relay = OutboxRelay(
        Database(backbone.settings.model_copy(update={"outbox_retention_hours": 24})), backbone.link
    )
    try:
        assert await relay.publish_pending() == 3
        bound = await relay.prune_bound()
        new = await backbone.emit("new")
        assert await relay.publish_pending() == 1
        assert await relay.prune(chunk=100, below=bound) == 3
        assert await rows_held(backbone) == {new.id: True}
    finally:
        await relay.database.dispose()


async def test_an_event_written_after_every_row_was_pruned_is_still_published(backbone: Backbone) -> None:
    """Pruning (or an erasure) may empty the outbox; the next event must not get a sequence number the
    relay's cursor has passed already (SQLite hands out max(rowid) + 1 unless told never to reuse)."""
    old = [await backbone.emit(f"old-{n}") for n in range(3)]
    assert await backbone.relay.publish_pending() == 3
    await written_days_ago(backbone, 8, *old)
    if backbone.settings.is_postgres:  # its sequence never gives a number twice
        assert await backbone.relay.prune() == 3
        assert await rows_held(backbone) == {}
    else:  # the row at the relay's cursor stays, so the next row's number is past it
        assert await backbone.relay.prune() == 2
        assert list(await rows_held(backbone)) == [old[-1].id]
    after = await backbone.emit("after")
    assert await backbone.relay.publish_pending() == 1
    assert await backbone.stream_messages() == 4
    assert after.id in {row for row in await rows_held(backbone)}
