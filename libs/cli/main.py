"""``sib``: read programmes, participants, timelines, months, statements and outcomes from the services'
public REST APIs, and follow the event stream. Rich tables by default, raw JSON with ``--json``.

It never talks to a database, never shows a full CPR number (an admin token only ever gets
``cpr_masked``) and never prints a token.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from libs.cli import events as event_stream
from libs.cli.client import Services

app = typer.Typer(
    name="sib",
    help="Operator tool for the SIB settlement platform (talks to the services' REST APIs).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a crash must not print the token held in a local
)
statement_app = typer.Typer(help="One statement: its lines and totals, or its CSV.", no_args_is_help=True)
events_app = typer.Typer(help="The platform's events on NATS JetStream.", no_args_is_help=True)
app.add_typer(statement_app, name="statement")
app.add_typer(events_app, name="events")

# Tables are not cut at 80 columns when the output goes to a file or a pipe.
PIPE_WIDTH = 240
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


@dataclass
class Context:
    services: Services
    as_json: bool


def console() -> Console:
    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal:
        out = Console(highlight=False, soft_wrap=False, width=max(out.width, PIPE_WIDTH))
    return out


def state(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


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


# --- intake -------------------------------------------------------------------------------------


@app.command()
def programmes(ctx: typer.Context) -> None:
    """List the programmes with their current terms (intake)."""
    st = state(ctx)
    data = st.services.get("intake", "/v1/programmes")
    if st.as_json:
        print_json(data)
        return
    rows = []
    for item in data["items"]:
        current = item["current"]
        terms = current["terms"]
        tracks = ", ".join(f"{name} {seats}" for name, seats in terms.get("tracks", {}).items())
        rows.append(
            (
                item["programme_id"],
                item["name"],
                current["version"],
                current["effective_from"],
                tracks,
                terms.get("fee_per_month_dkk"),
                terms.get("total_cap_dkk"),
                terms.get("follow_up_months"),
            )
        )
    columns = ("programme", "name", "terms", "from", "tracks (seats)", "fee/month dkk", "cap dkk", "months")
    console().print(table(f"{len(rows)} programme(s)", columns, rows))


class ParticipantStatus(StrEnum):
    referred = "referred"
    enrolled = "enrolled"
    withdrawn = "withdrawn"


@app.command()
def participants(
    ctx: typer.Context,
    programme_id: Annotated[str, typer.Argument(help="the programme id")],
    status: Annotated[ParticipantStatus | None, typer.Option(help="only this status")] = None,
    track: Annotated[str | None, typer.Option(help="only this track")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many participants")] = 100,
    page_size: Annotated[
        int, typer.Option(min=1, max=500, help="participants per request (the cursor is followed)")
    ] = 100,
) -> None:
    """List a programme's participants with masked CPR numbers (intake)."""
    st = state(ctx)
    # An unknown programme is a 404 here rather than an empty list.
    st.services.get("intake", f"/v1/programmes/{programme_id}")
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(items) < limit:
        params: dict[str, str | int] = {
            "programme_id": programme_id,
            "limit": min(limit - len(items), page_size),
        }
        if status is not None:
            params["status"] = status.value
        if track is not None:
            params["track"] = track
        if cursor is not None:
            params["cursor"] = cursor
        page = st.services.get("intake", "/v1/participants", params=params)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    items = items[:limit]
    for item in items:
        item.pop("cpr", None)  # only a jobcenter token gets it; never shown here whoever asks
    if st.as_json:
        print_json({"items": items, "next_cursor": cursor})
        return
    rows = [
        (
            item["participant_id"],
            item["cpr_masked"],
            item["track"],
            item["status"],
            item["referred_on"],
            item.get("enrolled_on"),
            item.get("withdrawn_on"),
            item.get("withdrawal_reason"),
        )
        for item in items
    ]
    columns = ("participant", "cpr", "track", "status", "referred", "enrolled", "withdrawn", "reason")
    more = " (more: raise --limit)" if cursor else ""
    console().print(table(f"{programme_id}: {len(rows)} participant(s){more}", columns, rows))


# --- progression --------------------------------------------------------------------------------


@app.command()
def timeline(
    ctx: typer.Context,
    participant_id: Annotated[str, typer.Argument(help="the participant id")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="as known at this time (ISO 8601 with a time zone)")
    ] = None,
) -> None:
    """A participant's resolved status timeline (progression)."""
    st = state(ctx)
    params = {"as_of": value} if (value := aware(as_of, "--as-of")) else None
    data = st.services.get("progression", f"/v1/participants/{participant_id}/timeline", params=params)
    if st.as_json:
        print_json(data)
        return
    rows = [
        (period["from"], period.get("to"), period.get("code"), period["category"], period.get("record_id"))
        for period in data["periods"]
    ]
    title = (
        f"{data['participant_id']} ({data['programme_id']}), data complete through "
        f"{data.get('data_complete_through') or '-'}"
        + (f", as of {data['as_of']}" if data.get("as_of") else "")
    )
    console().print(table(title, ("from", "to", "code", "category", "record"), rows))


# --- settlement ---------------------------------------------------------------------------------


@app.command()
def months(
    ctx: typer.Context, participant_id: Annotated[str, typer.Argument(help="the participant id")]
) -> None:
    """A participant's months: days, fee, provisional flag, invoiced (settlement)."""
    st = state(ctx)
    data = st.services.get("settlement", f"/v1/participants/{participant_id}/months")
    if st.as_json:
        print_json(data)
        return
    items = data["items"]
    rows = [
        (
            m["month"],
            m["in_window_days"],
            m["self_supporting_days"],
            m["public_support_days"],
            m["unknown_days"],
            m["provisional"],
            m["fee_dkk"],
            m["invoiced_dkk"],
        )
        for m in items
    ]
    earned = money_sum(m["fee_dkk"] for m in items if not m["provisional"])
    provisional = money_sum(m["fee_dkk"] for m in items if m["provisional"])
    invoiced = money_sum(m["invoiced_dkk"] for m in items)
    columns = (
        "month",
        "in-window days",
        "self-supp. days",
        "public days",
        "unknown days",
        "provisional",
        "fee dkk",
        "invoiced dkk",
    )
    out = table(f"{data['participant_id']} ({data['programme_id']})", columns, rows)
    out.caption = f"earned {earned} · provisional {provisional} · invoiced {invoiced} DKK"
    out.caption_justify = "left"
    console().print(out)


def totals_of(statement: dict[str, Any]) -> dict[str, Any]:
    totals: dict[str, Any] = statement.get("totals") or {}
    return totals


@app.command()
def statements(
    ctx: typer.Context, programme_id: Annotated[str, typer.Argument(help="the programme id")]
) -> None:
    """A programme's statements in period order (settlement)."""
    st = state(ctx)
    # An unknown programme is a 404 here rather than an empty list.
    st.services.get("settlement", f"/v1/programmes/{programme_id}/terms")
    data = st.services.get("settlement", f"/v1/programmes/{programme_id}/statements")
    if st.as_json:
        print_json(data)
        return
    rows = []
    for s in data["items"]:
        totals = totals_of(s)
        rows.append(
            (
                s["period"],
                s["statement_id"],
                s.get("covers_through"),
                len(s.get("lines") or []),
                totals.get("net"),
                totals.get("cumulative_invoiced"),
                totals.get("investor"),
                totals.get("provider"),
                (s.get("sha256") or "")[:12] or None,
            )
        )
    columns = (
        "period",
        "statement",
        "covers through",
        "lines #",
        "net",
        "cumulative invoiced",
        "investor",
        "provider",
        "sha256",
    )
    console().print(table(f"{programme_id}: {len(rows)} statement(s), DKK", columns, rows))


@statement_app.command("show")
def statement_show(
    ctx: typer.Context, statement_id: Annotated[str, typer.Argument(help="the statement id")]
) -> None:
    """A statement's lines and totals."""
    st = state(ctx)
    data = st.services.get("settlement", f"/v1/statements/{statement_id}")
    if st.as_json:
        print_json(data)
        return
    out = console()
    out.print(
        Text(
            f"Statement {data['statement_id']}: programme {data['programme_id']}, period {data['period']}, "
            f"covers through {data['covers_through']}, terms v{data['terms_version']}, "
            f"issued {data['issued_at']}"
        )
    )
    if data.get("sha256"):
        out.print(Text(f"sha256 {data['sha256']}", style="dim"))
    if "min_citizens" in data:  # the investor's view: lines per month and kind, small cells suppressed
        cells = [
            (line.get("month"), line["kind"], line.get("citizens"), line.get("amount_dkk"),
             "suppressed" if line.get("suppressed") else None)
            for line in data["lines"]
        ]  # fmt: skip
        title = f"Lines per month and kind (cells of fewer than {data['min_citizens']} citizens suppressed)"
        out.print(table(title, ("month", "kind", "citizens #", "amount dkk", ""), cells))
    else:
        rows = [
            (
                line["line_no"],
                line["kind"],
                line.get("participant_id"),
                line.get("month"),
                line["amount_dkk"],
                f"{line['corrects_statement_id']}#{line['corrects_line_no']}"
                if line.get("corrects_statement_id")
                else None,
            )
            for line in data["lines"]
        ]
        out.print(table("Lines", ("line #", "kind", "participant", "month", "amount dkk", "corrects"), rows))
    totals = totals_of(data)
    out.print(table("Totals", ("total", "amount dkk"), list(totals.items())))


@statement_app.command("export")
def statement_export(
    ctx: typer.Context,
    statement_id: Annotated[str, typer.Argument(help="the statement id")],
    out: Annotated[Path | None, typer.Option("--out", help="write the CSV here instead of stdout")] = None,
) -> None:
    """A statement as CSV (the service's own rendering)."""
    st = state(ctx)
    response = st.services.request("settlement", f"/v1/statements/{statement_id}", accept="text/csv")
    if out is None:
        sys.stdout.write(response.text)
        return
    out.write_text(response.text, encoding="utf-8")
    Console(stderr=True, highlight=False).print(Text(f"wrote {out} ({len(response.content)} bytes)"))


@app.command()
def outcomes(
    ctx: typer.Context, programme_id: Annotated[str, typer.Argument(help="the programme id")]
) -> None:
    """Self-supporting weeks against the control group: per track, the effect and the target."""
    st = state(ctx)
    data = st.services.get("settlement", f"/v1/programmes/{programme_id}/outcomes")
    if st.as_json:
        print_json(data)
        return
    out = console()
    label = " [projection]" if data.get("is_projection") else ""
    heading = Text(f"Outcomes of {data['programme_id']}")
    if label:
        heading.append(label, style="yellow")
    out.print(heading)
    ci = data.get("effect_ci95") or {}
    summary = [
        ("participants", data.get("participants")),
        ("windows complete / open", f"{data.get('windows_complete')} / {data.get('windows_open')}"),
        ("data complete through", data.get("data_complete_through")),
        ("mean self-supporting weeks", data.get("mean_weeks")),
        ("control baseline weeks", data.get("control_baseline_weeks")),
        (
            "effect weeks (95 % CI)",
            f"{data.get('effect_weeks')} ({ci.get('low')} to {ci.get('high')})"
            if data.get("effect_weeks") is not None
            else None,
        ),
        ("target uplift weeks", data.get("target_uplift_weeks")),
        ("target met", data.get("target_met")),
        ("target met at the CI's low end", data.get("target_met_at_95")),
        ("projection", data.get("is_projection")),
    ]
    out.print(table(None, ("figure", "value"), summary, show_header=False))
    rows = [
        (
            t["track"],
            t.get("participants"),
            t.get("windows_complete"),
            t.get("mean_weeks_complete_windows"),
            t.get("mean_weeks_projected"),
            t.get("control_baseline_weeks"),
        )
        for t in data.get("tracks", [])
    ]
    columns = (
        "track",
        "participants #",
        "complete #",
        "mean (complete) weeks",
        "mean (projected) weeks",
        "baseline weeks",
    )
    out.print(table("Tracks", columns, rows))


# --- events -------------------------------------------------------------------------------------


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
