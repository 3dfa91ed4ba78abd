"""Operator commands that work on a service's database and the event stream directly, so they also
work while the service is stopped.

    python -m deploy.ops dead-letters SERVICE           # list the service's dead letters
    python -m deploy.ops redrive SERVICE [--id N ...]   # apply them again after a fix
    python -m deploy.ops rebuild SERVICE [--replace]    # replay the stream into an empty database
    python -m deploy.ops erase-streams --once|--every S # erased participants' messages out of NATS
    python -m deploy.ops verify-audit --service SERVICE # check the read audit's hash chain

The settings come from the environment as for the service itself (DATABASE_URL, DATABASE_SCHEMA,
VAR_DIR, NATS_URL, ...). ``make rebuild SERVICE=settlement``, ``make redrive SERVICE=...`` and
``make verify-audit SERVICE=...`` call this module.

Verify-audit reads the service's read audit in ``seq`` order and recomputes each row's hash from its
fields, the digests of the participants it names and the previous row's hash; it prints the rows
checked and ``intact``, or the first row that does not verify (its seq and why) and exits 1. It needs
only the database.

Rebuild replays every event the service's consumers take, from the first in the stream, in stream
order, through the consumers' own handlers into a new, empty database (SQLite: ``<VAR_DIR>/rebuild/``;
PostgreSQL: the schema ``<schema>_rebuild``, emptied), then compares the rebuilt read model with the
live one table by table and prints the result; the exit status is 1 when they differ. Events the
rebuilt database would publish (recalculated months) are marked published: they were published the
first time. With ``--replace`` (settlement only, whose every table is derived from the stream, and with
the service stopped) the rebuilt database takes the live one's place; the old one is kept beside it
(PostgreSQL: its tables in ``<schema>_previous``, until the next --replace).

Erase-streams deletes the messages of participants intake erased from the event stream and the
dead-letter stream, as the NATS user ``eraser`` (deploy/ops/erase_streams.py says what it keeps and
why); ``make erase-streams`` runs it once, ``make run`` keeps it running.

On PostgreSQL the service's role owns those schemas but may not create one (deploy/postgres.py makes
them), so tables are dropped and moved between schemas; the schemas stay.
"""

from deploy.ops.deadletters import cmd_dead_letters, cmd_redrive
from deploy.ops.erase_streams import (
    KEPT_TYPES,
    ErasureReport,
    cmd_erase_streams,
    erase_participants,
    eraser_settings,
    run_once,
)
from deploy.ops.rebuild import (
    VOLATILE_COLUMNS,
    ReplayStats,
    carry_over,
    cmd_rebuild,
    compare,
    empty_database,
    empty_schema,
    move_tables,
    rebuild,
    rebuild_settings,
    replace,
    replay,
    table_rows,
)
from deploy.ops.services import REPO_ROOT, ServiceOps, connect, operator_settings, service_ops

__all__ = [
    "KEPT_TYPES",
    "REPO_ROOT",
    "VOLATILE_COLUMNS",
    "ErasureReport",
    "ReplayStats",
    "ServiceOps",
    "carry_over",
    "cmd_dead_letters",
    "cmd_erase_streams",
    "cmd_rebuild",
    "cmd_redrive",
    "compare",
    "connect",
    "empty_database",
    "empty_schema",
    "erase_participants",
    "eraser_settings",
    "move_tables",
    "operator_settings",
    "rebuild",
    "rebuild_settings",
    "replace",
    "replay",
    "run_once",
    "service_ops",
    "table_rows",
]
