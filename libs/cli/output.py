"""How the CLI writes: rich tables of plain-text cells (never read as markup), or raw JSON; and the
parsing of a time option."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Tables are not cut at 80 columns when the output goes to a file or a pipe.
PIPE_WIDTH = 240


def console() -> Console:
    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal:
        out = Console(highlight=False, soft_wrap=False, width=max(out.width, PIPE_WIDTH))
    return out


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def cell(value: Any) -> Text:
    """A table cell as plain text: values are never read as rich markup."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    return Text(str(value))


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]], **kw: Any) -> Table:
    out = Table(title=title, title_justify="left", **kw)
    for name in columns:
        right = name.endswith(("dkk", "days", "weeks", "net", "invoiced", "investor", "provider", "#"))
        out.add_column(name, justify="right" if right else "left", overflow="fold")
    for row in rows:
        out.add_row(*(cell(value) for value in row))
    return out


def money_sum(values: Iterable[Any]) -> Decimal:
    total = Decimal("0.00")
    for value in values:
        try:
            total += Decimal(str(value))
        except InvalidOperation:
            continue
    return total


def aware(value: str | None, option: str) -> str | None:
    """An ISO 8601 time with a time zone, unchanged; a usage error otherwise."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=option) from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"give a time zone, e.g. {value}Z or {value}+01:00", param_hint=option)
    return parsed.isoformat()
