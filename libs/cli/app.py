"""The ``sib`` command: its Typer app and groups, and the options every command shares (the services' URLs,
the token, ``--json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from libs.cli.client import Services

app = typer.Typer(
    name="sib",
    help="Operator tool for the SIB settlement platform (talks to the services' REST APIs).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a crash must not print the token held in a local
)
statement_app = typer.Typer(
    help="One statement: its lines and totals, or its CSV; drafts prepared, approved, discarded.",
    no_args_is_help=True,
)
events_app = typer.Typer(help="The platform's events on NATS JetStream.", no_args_is_help=True)
app.add_typer(statement_app, name="statement")
app.add_typer(events_app, name="events")


@dataclass
class Context:
    services: Services
    as_json: bool


def state(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.callback()
def main(
    ctx: typer.Context,
    intake_url: Annotated[
        str, typer.Option(envvar="SIB_INTAKE_URL", help="intake's base URL")
    ] = "http://127.0.0.1:8001",
    progression_url: Annotated[
        str, typer.Option(envvar="SIB_PROGRESSION_URL", help="progression's base URL")
    ] = "http://127.0.0.1:8002",
    settlement_url: Annotated[
        str, typer.Option(envvar="SIB_SETTLEMENT_URL", help="settlement's base URL")
    ] = "http://127.0.0.1:8003",
    token: Annotated[
        str | None,
        typer.Option(
            envvar="SIB_TOKEN",
            show_default=False,
            help="Bearer token; without it a one-hour development admin token is made "
            "(refused when SIB_ENV=production).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON instead of tables.")] = False,
) -> None:
    """Operator tool for the SIB settlement platform."""
    services = Services(
        urls={"intake": intake_url, "progression": progression_url, "settlement": settlement_url},
        token=token or None,
    )
    ctx.obj = Context(services=services, as_json=as_json)
    ctx.call_on_close(services.close)
