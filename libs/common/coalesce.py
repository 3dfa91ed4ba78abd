"""Group commit: writes submitted while another group is being written are written together, in one
transaction, by one task.

A transaction per request pays its statements' round trips and its commit while every other writer waits
(SQLite has one writer; a PostgreSQL commit waits for the WAL flush). Under load the requests that queue
behind a group become the next group, so the cost of a transaction is shared by all of them; with one
request at a time a group is that one request, and nothing waits for a timer.

If a group fails, each of its items is written again on its own, so one bad item (a unique key taken by
a concurrent request, say) fails alone and never takes the others with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - the item type
R = TypeVar("R")


class GroupWriter(Generic[I, R]):
    def __init__(
        self,
        write: Callable[[Sequence[I]], Awaitable[Sequence[R]]],
        *,
        max_items: int = 256,
        max_weight: int = 20_000,
        weight: Callable[[I], int] = lambda _: 1,
        shared_failure: Callable[[Exception], bool] = lambda _: False,
    ) -> None:
        """``shared_failure(exc)``: the group failed for a reason every item shares (the database is
        away), so each item gets that error rather than a second try on a broken connection."""
        self._write = write
        self._max_items = max_items
        self._max_weight = max_weight
        self._weight = weight
        self._shared_failure = shared_failure
        self._pending: list[tuple[I, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: I) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        # Marks an error as retrieved when the submitter went away before the group was written.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="group-writer")
        # Shielded: a client that goes away does not cancel a write other requests share.
        return await asyncio.shield(future)

    def _take(self) -> list[tuple[I, asyncio.Future[R]]]:
        group: list[tuple[I, asyncio.Future[R]]] = []
        weight = 0
        while self._pending and len(group) < self._max_items:
            item_weight = self._weight(self._pending[0][0])
            if group and weight + item_weight > self._max_weight:
                break
            group.append(self._pending.pop(0))
            weight += item_weight
        return group

    async def _drain(self) -> None:
        while self._pending:
            group = self._take()
            try:
                results = await self._write([item for item, _ in group])
            except asyncio.CancelledError as exc:  # shutting down: nobody is left waiting in vain
                for _, future in group + self._pending:
                    _settle_error(future, exc)
                self._pending.clear()
                raise
            except Exception as exc:
                if len(group) == 1 or self._shared_failure(exc):
                    for _, future in group:
                        _settle_error(future, exc)
                    continue
                for item, future in group:
                    try:
                        [result] = await self._write([item])
                    except Exception as single_exc:
                        _settle_error(future, single_exc)
                    else:
                        _settle(future, result)
                continue
            for (_, future), result in zip(group, results, strict=True):
                _settle(future, result)


def _settle(future: asyncio.Future[R], result: R) -> None:
    if not future.done():
        future.set_result(result)


def _settle_error(future: asyncio.Future[R], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
