"""``sib programmes`` and ``sib participants``: what intake holds."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from libs.cli.app import app, state
from libs.cli.output import console, print_json, table


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
