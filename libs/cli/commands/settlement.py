"""``sib months``, ``sib statements``, ``sib statement show|export`` and ``sib outcomes``: what settlement
computes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from libs.cli.app import app, state, statement_app
from libs.cli.output import console, money_sum, print_json, table


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
