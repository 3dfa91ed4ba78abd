"""A service's SQLite WAL checkpointed from a thread of its own, not in the event loop.

SQLite checkpoints the write-ahead log itself when a commit takes it past ``wal_autocheckpoint`` pages
(64 MiB here, ``SQLITE_PRAGMAS``), in that commit's call: with the inline driver that is the event
loop's thread, so copying 64 MiB back into the database file and syncing it stopped every request for
as long, and the single POSTs that met one set the p99 (figures: docs/performance.md#eighth-session-2026-12-04
and #from-the-codes-comments).

Here a connection of its own runs ``PRAGMA wal_checkpoint(PASSIVE)`` every
``SQLITE_CHECKPOINT_INTERVAL_SECONDS`` in a worker thread; ``sqlite3`` lets go of the GIL while SQLite
works, so the loop goes on serving. PASSIVE takes no lock that a writer or a reader waits for: it copies
what no reader still needs, and once the log is copied whole, the next writer starts it again from the
beginning, so it stays at about a second of writes and the automatic checkpoint is left as a backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from libs.common.logging import get_logger

log = get_logger(__name__)


class WalCheckpointer:
    def __init__(self, path: Path, interval_seconds: float) -> None:
        self.path = path
        self.interval_seconds = interval_seconds
        self._connection: sqlite3.Connection | None = None
        self._stopping = asyncio.Event()

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint (blocking: run it in a thread). Returns SQLite's (busy, frames in the
        log, frames copied back)."""
        if self._connection is None:
            # Used by one worker thread at a time: each call is awaited before the next begins.
            self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        busy, frames, copied = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(copied)

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_seconds)
                break
            try:
                await asyncio.to_thread(self.checkpoint)
            except sqlite3.Error as exc:  # the file away for a moment: the next round tries again
                log.warning("sqlite_checkpoint_failed", error=str(exc))
        self.close()

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
