"""``sib statement draft|drafts|approve|discard``: a statement's lifecycle (settlement). The jobcenter
prepares a draft; a finance officer, another person, approves it naming the sha256 reviewed, which issues
it; a draft may be discarded."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from libs.cli.app import state, statement_app
from libs.cli.output import console, print_json, table


def _show(data: dict[str, Any]) -> None:
    totals = data.get("totals") or {}
    console().print(
        Text(
            f"Draft {data['draft_id']} ({data['state']}): programme {data['programme_id']}, period "
            f"{data['period']}, number {data['number']}, {data['line_count']} line(s), net "
            f"{totals.get('net')} DKK, prepared by {', '.join(data['prepared_by'])}"
        )
    )
    console().print(Text(f"sha256 {data['sha256']}", style="dim"))


@statement_app.command("draft")
def draft(
    ctx: typer.Context,
    programme_id: Annotated[str, typer.Argument(help="the programme id")],
    period: Annotated[str, typer.Argument(help="the period, YYYY-MM")],
) -> None:
    """Prepare (or recompute) the draft of a period's statement; its sha256 is what an approver names."""
    st = state(ctx)
    data = st.services.send(
        "settlement", f"/v1/programmes/{programme_id}/statements", method="POST", json={"period": period}
    )
    print_json(data) if st.as_json else _show(data)


@statement_app.command("drafts")
def drafts(ctx: typer.Context, programme_id: Annotated[str, typer.Argument(help="the programme id")]) -> None:
    """A programme's drafts (open, discarded, issued) as last prepared."""
    st = state(ctx)
    data = st.services.get("settlement", f"/v1/programmes/{programme_id}/statement-drafts")
    if st.as_json:
        print_json(data)
        return
    rows = [
        (d["period"], d["draft_id"], d["state"], d["number"], d["line_count"], (d.get("totals") or {}).get("net"),
         ", ".join(d["prepared_by"]), d.get("closed_by"), d["sha256"][:12])
        for d in data["items"]
    ]  # fmt: skip
    columns = ("period", "draft", "state", "number", "lines #", "net", "prepared by", "closed by", "sha256")
    console().print(table(f"{programme_id}: {len(rows)} draft(s), DKK", columns, rows))


@statement_app.command("approve")
def approve(
    ctx: typer.Context,
    draft_id: Annotated[str, typer.Argument(help="the draft id")],
    sha256: Annotated[str, typer.Option("--sha256", help="the sha256 of the draft as you reviewed it")],
) -> None:
    """Approve a draft as reviewed (finance; never your own), which issues its statement."""
    st = state(ctx)
    data = st.services.send(
        "settlement", f"/v1/statements/drafts/{draft_id}/approval", method="POST", json={"sha256": sha256}
    )
    if st.as_json:
        print_json(data)
        return
    console().print(
        Text(f"Issued statement {data['statement_id']} number {data['number']} for {data['period']}")
    )
    console().print(Text(f"sha256 {data['sha256']}", style="dim"))


@statement_app.command("discard")
def discard(ctx: typer.Context, draft_id: Annotated[str, typer.Argument(help="the draft id")]) -> None:
    """Discard an open draft."""
    st = state(ctx)
    data = st.services.send("settlement", f"/v1/statements/drafts/{draft_id}", method="DELETE")
    print_json(data) if st.as_json else _show(data)
