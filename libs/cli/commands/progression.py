"""``sib timeline``: a participant's resolved status timeline from progression."""

from __future__ import annotations

from typing import Annotated

import typer

from libs.cli.app import app, state
from libs.cli.output import aware, console, print_json, table


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
