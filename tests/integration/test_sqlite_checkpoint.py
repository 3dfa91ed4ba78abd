"""The WAL checkpointer: copies the log back from a thread, so the next writer starts it again; a
SQLite service runs one, a PostgreSQL one none."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from libs.common.db import sqlite_file
from libs.common.settings import CommonSettings
from libs.common.sqlite_checkpoint import WalCheckpointer
from services.progression.main import create_app
from services.progression.settings import ProgressionSettings


def writer(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies the log back
    connection.execute("CREATE TABLE IF NOT EXISTS pages (n INTEGER PRIMARY KEY, body TEXT)")
    return connection


def write_rows(connection: sqlite3.Connection, first: int, count: int) -> None:
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT INTO pages VALUES (?, ?)", [(n, "x" * 3000) for n in range(first, first + count)]
    )
    connection.execute("COMMIT")


def frames_in_log(connection: sqlite3.Connection) -> int:
    """The log's length in frames: SQLite's answer to a PASSIVE checkpoint (which copies them too)."""
    return int(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])


def test_a_checkpoint_copies_the_whole_log_back_and_the_next_writer_starts_it_again(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    connection = writer(path)
    write_rows(connection, 0, 200)
    checkpointer = WalCheckpointer(path, interval_seconds=1)
    busy, frames, copied = checkpointer.checkpoint()
    assert busy == 0 and frames >= 200 and copied == frames
    write_rows(connection, 200, 1)
    # The log began again from its start: a frame or two, not 200 more.
    assert frames_in_log(connection) < 10
    checkpointer.close()


async def test_the_checkpointer_runs_until_stopped(tmp_path: Path) -> None:
    """Watched from outside: the rows reach the database file itself (until a checkpoint they are only
    in the log, the writer's automatic checkpoint being off), and nothing here checkpoints but it."""
    path = tmp_path / "c.db"
    connection = writer(path)
    write_rows(connection, 0, 200)  # about 600 KB of rows
    assert path.stat().st_size < 100_000
    checkpointer = WalCheckpointer(path, interval_seconds=0.05)
    running = asyncio.create_task(checkpointer.run())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if path.stat().st_size > 500_000:
            break
    else:
        raise AssertionError("the log was never copied back into the database file")
    checkpointer.stop()
    await asyncio.wait_for(running, timeout=5)
    assert checkpointer._connection is None  # closed on the way out


async def test_a_sqlite_service_checkpoints_from_a_thread_and_a_postgresql_one_does_not(
    nats_url: str, database: dict[str, Any]
) -> None:
    settings = ProgressionSettings(sib_env="test", nats_url=nats_url, **database)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        names = {task.get_name() for task in app.state.runtime.tasks}
        assert ("sqlite-checkpoint" in names) == (not settings.is_postgres), names


def test_the_file_the_checkpointer_is_given() -> None:
    assert sqlite_file(CommonSettings(database_url="sqlite:////srv/sib/p.db")) == Path("/srv/sib/p.db")
    assert sqlite_file(CommonSettings(database_url="sqlite:///:memory:")) is None
    assert sqlite_file(CommonSettings(database_url="postgresql://u@h/db")) is None
    assert sqlite_file(CommonSettings(service_name="p", var_dir=Path("/v"))) == Path("/v/p.db")
