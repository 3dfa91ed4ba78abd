"""The simulated jobcenter in a small configuration (10 citizens, 6 months) against the real stack:
its summary matches what the APIs report (statements approved by another person, invoices, payments,
disputes), and the same seed gives the same run."""

from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console

from libs.common.auth import Role
from libs.simulator.erasure import erased_citizen_cpr
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
    assert "Invoices, credit notes and payments per creditor" in printed
    check_the_accounts(stack, "sim-e2e", summary)
    check_the_erasure(stack, "sim-e2e", summary, printed)
    # No CPR number in what the simulator prints, the erased citizen's included.
    for cpr in [c.cpr for c in people] + [erased_citizen_cpr(7, people)]:
        assert cpr not in printed and cpr[:6] + "-" + cpr[6:] not in printed


def check_the_erasure(stack: Stack, programme_id: str, summary: dict[str, Any], printed: str) -> None:
    """The citizen the jobcenter had erased: intake answers 404 for them, lists the erasure, and keeps
    the cohort (the participants listed above are the cohort's ten)."""
    erasure = summary["erasure"]
    pid = erasure["participant_id"]
    assert (erasure["intake_status"], erasure["found_by_cpr"]) == (404, 0)
    assert f"participant {pid} now answers 404" in " ".join(printed.split())  # as the console wrapped it
    jobcenter = headers(Role.jobcenter, (programme_id,))
    intake = stack.urls["intake"]
    assert httpx.get(f"{intake}/v1/participants/{pid}", headers=jobcenter).status_code == 404
    erasures = httpx.get(f"{intake}/v1/erasures", params={"programme_id": programme_id}, headers=jobcenter)
    assert [(e["participant_id"], e["state"], e["basis"]) for e in erasures.json()["items"]] == [
        (pid, "erased", "order")
    ]


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


def check_the_accounts(stack: Stack, programme_id: str, summary: dict[str, Any]) -> None:
    """Four eyes, an invoice per creditor of every statement with a share, the payments in the
    receivables, an upheld dispute's adjustment referring to it, a rejected one no longer held."""
    settlement = stack.urls["settlement"]
    finance = headers(Role.finance, (programme_id,))

    def get(path: str, **params: str) -> Any:
        response = httpx.get(f"{settlement}{path}", params=params, headers=finance)
        assert response.status_code == 200, response.text
        return response.json()

    drafts = get(f"/v1/programmes/{programme_id}/statement-drafts")["items"]
    assert drafts and all(d["state"] == "issued" for d in drafts)
    assert all(d["closed_by"] not in d["prepared_by"] for d in drafts)
    statements = get(f"/v1/programmes/{programme_id}/statements")["items"]
    invoices = get(f"/v1/programmes/{programme_id}/invoices")["items"]
    with_share = 0
    for statement in statements:
        for creditor in ("provider", "investor"):
            share = Decimal(statement["totals"][creditor])
            made = [
                i
                for i in invoices
                if i["statement_id"] == statement["statement_id"] and i["creditor"] == creditor
            ]
            if share == 0:
                assert made == []
                continue
            with_share += 1
            assert [(Decimal(i["amount_dkk"]), i["document_type"]) for i in made] == [
                (share, "invoice" if share > 0 else "credit_note")
            ]
    assert with_share >= 4  # a short run still invoices both creditors more than once
    receivables = {r["creditor"]: r for r in get(f"/v1/programmes/{programme_id}/receivables")["items"]}
    paid = sum((Decimal(r["paid_dkk"]) for r in receivables.values()), Decimal("0.00"))
    assert summary["accounts"]["payments_recorded"] > 0
    assert paid == Decimal(summary["accounts"]["payments_recorded_dkk"]) > 0
    by_id = {i["invoice_id"]: i for i in invoices}
    assert Counter(i["status"] for i in invoices)["paid"] > 0
    in_part, unpaid = (
        by_id[summary["accounts"][key]] for key in ("invoice_paid_in_part", "invoice_left_unpaid")
    )
    assert (
        0 < Decimal(in_part["paid_dkk"]) < Decimal(in_part["amount_dkk"])
        and in_part["status"] == "partially_paid"
    )
    assert Decimal(unpaid["paid_dkk"]) == 0 and unpaid["status"] != "paid"
    for creditor, row in receivables.items():
        assert summary["accounts"]["creditors"][creditor]["paid_dkk"] == row["paid_dkk"]

    disputes = get(f"/v1/programmes/{programme_id}/disputes")["items"]
    by_state = {d["state"]: d for d in disputes}
    assert summary["accounts"]["disputes_by_state"] == dict(
        sorted(Counter(d["state"] for d in disputes).items())
    )
    upheld, rejected = by_state["upheld"], by_state["rejected"]
    referring = [
        line
        for s in statements
        for line in s["lines"]
        if line["kind"] == "adjustment" and line.get("dispute_id") == upheld["dispute_id"]
    ]
    assert [(line["participant_id"], line["month"]) for line in referring] == [
        (line["participant_id"], line["month"]) for line in upheld["lines"]
    ]
    assert sum(Decimal(line["amount_dkk"]) for line in referring) < 0  # the first week on sygedagpenge
    # The jobcenter posted the corrected status, and the issued lines sum to the month's fee now.
    jobcenter = headers(Role.jobcenter, (programme_id,))
    (disputed,) = upheld["lines"]
    records = httpx.get(
        f"{stack.urls['progression']}/v1/participants/{disputed['participant_id']}/status-records",
        headers=jobcenter,
    ).json()["items"]
    first = f"{disputed['month']}-01"
    assert any(
        r["code"] == "sygedagpenge" and r["valid_from"] == first and r["valid_to"] == f"{first[:8]}07"
        for r in records
    )
    months = httpx.get(
        f"{settlement}/v1/participants/{disputed['participant_id']}/months", headers=jobcenter
    ).json()["items"]
    month = next(m for m in months if m["month"] == disputed["month"])
    issued = [
        line
        for s in statements
        for line in s["lines"]
        if (line["participant_id"], line["month"]) == (disputed["participant_id"], disputed["month"])
    ]
    assert (
        Decimal(month["fee_dkk"])
        == Decimal(month["invoiced_dkk"])
        == sum(Decimal(line["amount_dkk"]) for line in issued)
    )
    assert rejected["held"] is False and rejected["resolution_reason"]
    assert [s["step"] for s in rejected["steps"]] == ["opened", "rejected"]
    assert {s["by"] for s in upheld["steps"]} == {"sim-provider", "sim-jobcenter"}
