"""``python -m libs.simulator``: play a jobcenter against running services (see run.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from libs.simulator.run import Config, simulate

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    citizens: Annotated[int, typer.Option(min=1, max=150)] = 150,
    months: Annotated[
        int, typer.Option(min=1, max=60, help="Simulated months (3 of enrolment + 24 + 2 of lag)")
    ] = 29,
    seed: int = 42,
    programme_id: str = "hedensted-2022",
    first_month: Annotated[str, typer.Option(help="YYYY-MM of the first enrolments")] = "2024-01",
    intake_url: Annotated[str, typer.Option(envvar="SIB_INTAKE_URL")] = "http://127.0.0.1:8001",
    progression_url: Annotated[str, typer.Option(envvar="SIB_PROGRESSION_URL")] = "http://127.0.0.1:8002",
    settlement_url: Annotated[str, typer.Option(envvar="SIB_SETTLEMENT_URL")] = "http://127.0.0.1:8003",
    summary_json: Annotated[Path | None, typer.Option(help="Also write the summary here as JSON")] = None,
) -> None:
    year, month = first_month.split("-")
    config = Config(
        intake_url=intake_url,
        progression_url=progression_url,
        settlement_url=settlement_url,
        programme_id=programme_id,
        citizens=citizens,
        months=months,
        first_month=date(int(year), int(month), 1),
        enrolment_months=min(3, months),
        seed=seed,
    )
    summary = simulate(config)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2, default=str) + "\n")


if __name__ == "__main__":
    app()
