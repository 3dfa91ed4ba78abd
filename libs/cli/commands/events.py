"""``sib events tail``: follow the platform's events on NATS JetStream."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from libs.cli import events as event_stream
from libs.cli.app import events_app
from libs.cli.output import aware

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


@events_app.command("tail")
def events_tail(
    since: Annotated[
        str | None, typer.Option(help="replay from this time (ISO 8601 with a time zone); else new only")
    ] = None,
    subject: Annotated[str, typer.Option(help="subject filter")] = "sib.>",
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL", help="NATS server URL")] = DEFAULT_NATS_URL,
    stream: Annotated[str, typer.Option(envvar="NATS_STREAM", help="JetStream stream")] = "SIB",
    max_events: Annotated[
        int | None, typer.Option("--max", min=1, help="stop after this many events")
    ] = None,
    idle: Annotated[
        float | None, typer.Option(min=0.1, help="stop after this many seconds without an event")
    ] = None,
) -> None:
    """Follow events, one line each: time, type, subject, id (de-duplicated by id)."""
    start = aware(since, "--since")
    err = Console(stderr=True, highlight=False)

    def emit(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def warn(message: str) -> None:
        err.print(Text(message, style="yellow"))

    try:
        asyncio.run(
            event_stream.tail(
                nats_url=nats_url,
                stream=stream,
                subject=subject,
                since=datetime.fromisoformat(start) if start else None,
                max_events=max_events,
                idle=idle,
                emit=emit,
                warn=warn,
            )
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
