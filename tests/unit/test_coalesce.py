"""The group writer: what is submitted while a group is being written is written together, and a bad
item fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from libs.common.coalesce import GroupWriter


class Recorder:
    def __init__(self) -> None:
        self.groups: list[list[int]] = []

    async def write(self, items: Sequence[int]) -> list[int]:
        self.groups.append(list(items))
        await asyncio.sleep(0.01)  # a transaction's round trips: others queue meanwhile
        if any(item < 0 for item in items):
            raise ValueError("a negative item")
        return [item * 10 for item in items]


async def test_items_submitted_while_a_group_is_written_form_the_next_group() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write)
    first = asyncio.create_task(writer.submit(1))
    await asyncio.sleep(0)  # the first group starts with item 1 alone
    rest = [asyncio.create_task(writer.submit(n)) for n in range(2, 12)]
    assert await first == 10
    assert await asyncio.gather(*rest) == [n * 10 for n in range(2, 12)]
    assert recorder.groups == [[1], list(range(2, 12))]


async def test_a_failing_item_fails_alone_and_the_rest_are_written() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write)
    results = await asyncio.gather(*(writer.submit(n) for n in (1, -2, 3)), return_exceptions=True)
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError)
    assert recorder.groups == [[1, -2, 3], [1], [-2], [3]]


async def test_groups_stop_at_the_weight_limit() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write, max_weight=5, weight=lambda item: item)
    await asyncio.gather(*(writer.submit(n) for n in (2, 2, 2, 3)))
    assert recorder.groups == [[2, 2], [2, 3]]


async def test_a_submitter_that_goes_away_does_not_cancel_the_write() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write)
    task = asyncio.create_task(writer.submit(7))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await writer.submit(8) == 80
    assert [7] in recorder.groups


async def test_a_failure_every_item_shares_fails_the_group_without_second_tries() -> None:
    calls: list[list[int]] = []

    async def database_away(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        raise ConnectionError("the database is away")

    writer = GroupWriter(database_away, shared_failure=lambda exc: isinstance(exc, ConnectionError))
    results = await asyncio.gather(*(writer.submit(n) for n in (1, 2, 3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert calls == [[1, 2, 3]]
