"""``sib``: read programmes, participants, timelines, months, statements and outcomes from the services'
public REST APIs, and follow the event stream. Rich tables by default, raw JSON with ``--json``.

It never talks to a database, never shows a full CPR number (an admin token only ever gets
``cpr_masked``) and never prints a token.
"""

from libs.cli.app import Context, app, events_app, main, state, statement_app
from libs.cli.commands import events, intake, lifecycle, progression, settlement
from libs.cli.output import aware, cell, console, money_sum, print_json, table

# Importing the command modules registers their commands on ``app``.
COMMANDS = (intake, progression, settlement, lifecycle, events)

__all__ = [
    "COMMANDS",
    "Context",
    "app",
    "aware",
    "cell",
    "console",
    "events_app",
    "main",
    "money_sum",
    "print_json",
    "state",
    "statement_app",
    "table",
]
