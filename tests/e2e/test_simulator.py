"""The simulated jobcenter in a small configuration (10 citizens, 6 months) against the real stack:
its summary matches what the APIs report, and the same seed gives the same run."""

from __future__ import annotations

import io
from decimal import Decimal

import httpx
from rich.console import Console

from libs.common.auth import Role
from libs.simulator.model import cohort, passes_modulus_11
from libs.simulator.run import Config, simulate
from tests.e2e.conftest import Stack
from tests.e2e.faults import headers


def config(stack: Stack, programme_id: str, seed: int = 7) -> Config:
    return Config(
        intake_url=stack.urls["intake"],
        progression_url=stack.urls["progression"],
        settlement_url=stack.urls["settlement"],
        programme_id=programme_id,
        citizens=10,
        months=6,
        enrolment_months=2,
        seed=seed,
    )


def test_small_simulation_summary_matches_what_the_apis_report(stack: Stack) -> None:
    out = io.StringIO()
    summary = simulate(config(stack, "sim-e2e"), console=Console(file=out, width=120))
    printed = out.getvalue()
    assert "Simulated 10 citizens" in printed and "Fees and results" in printed

    jobcenter = headers(Role.jobcenter, ("sim-e2e",))
    settlement = stack.urls["settlement"]
    api_summary = httpx.get(f"{settlement}/v1/programmes/sim-e2e/summary", headers=jobcenter).json()
    assert summary["fees_invoiced_dkk"] == api_summary["invoiced_dkk"]
    assert summary["statements_issued"] == api_summary["statements"] == 6
    # Drafted by the jobcenter, each approved by a finance officer: two people.
    assert summary["statements_approved_by"] == ["sim-finance"]
    assert "approved by sim-finance" in printed
    assert summary["records_posted"] == api_summary["status_records_held"]
    statements = httpx.get(f"{settlement}/v1/programmes/sim-e2e/statements", headers=jobcenter).json()[
        "items"
    ]
    adjustments = [line for s in statements for line in s["lines"] if line["kind"] == "adjustment"]
    assert summary["adjustment_lines"] == len(adjustments)
    assert Decimal(summary["adjustment_sum_dkk"]) == sum(Decimal(a["amount_dkk"]) for a in adjustments)
    outcomes = httpx.get(f"{settlement}/v1/programmes/sim-e2e/outcomes", headers=jobcenter).json()
    assert summary["outcome"]["effect_weeks"] == outcomes["effect_weeks"]
    assert summary["outcome"]["windows_open"] == 10
    economics = httpx.get(f"{settlement}/v1/programmes/sim-e2e/economics", headers=jobcenter).json()
    assert summary["investor"]["net_result_dkk"] == economics["investor"]["net_result_dkk"]
    assert sum(summary["status_mix"].values()) == 10
    participants = httpx.get(
        f"{stack.urls['intake']}/v1/participants", params={"programme_id": "sim-e2e"}, headers=jobcenter
    ).json()["items"]
    assert len(participants) == 10
    parties = httpx.get(f"{stack.urls['intake']}/v1/programmes/sim-e2e/parties", headers=jobcenter).json()
    assert [v["version"] for v in parties["versions"]] == [1]  # the demo's parties, published once
    assert parties["current"]["municipality"]["gln"] == "5798000000018"
    people = cohort(7, 10, config(stack, "x").first_month, 2, weeks=10)
    assert summary["cpr_failing_modulus_11"] == sum(1 for c in people if not passes_modulus_11(c.cpr))
    assert summary["records_late"] > 0  # some of the month's records came a month or two later
    # No CPR number in what the simulator prints.
    for citizen in people:
        assert citizen.cpr not in printed and citizen.cpr[:6] + "-" + citizen.cpr[6:] not in printed


def test_the_same_seed_gives_the_same_run_on_another_programme(stack: Stack) -> None:
    quiet = Console(file=io.StringIO())
    first = simulate(config(stack, "sim-a", seed=11), console=quiet)
    second = simulate(config(stack, "sim-b", seed=11), console=quiet)
    for key in (
        "records_posted",
        "records_late",
        "records_correcting",
        "status_mix",
        "fees_invoiced_dkk",
        "outcome",
    ):
        assert first[key] == second[key], key
