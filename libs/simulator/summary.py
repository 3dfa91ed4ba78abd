"""What a simulation reports: the tally of what it posted, what the platform itself reports back, and the
printed summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from libs.simulator.jobcenter import Jobcenter
from libs.simulator.model import Citizen
from libs.simulator.settling import Settled


@dataclass
class Tally:
    posted: int = 0
    late: int = 0
    corrections: int = 0
    statements: int = 0
    modulus_11_failures: int = 0
    seconds: float = 0.0
    by_kind: Counter[str] = field(default_factory=Counter)


def money(items: list[dict[str, Any]], creditor: str, document_type: str) -> tuple[int, str]:
    found = [i for i in items if i["creditor"] == creditor and i["document_type"] == document_type]
    return len(found), str(sum((Decimal(i["amount_dkk"]) for i in found), Decimal("0.00")))


def settlement_of_accounts(jobcenter: Jobcenter, settled: Settled) -> dict[str, Any]:
    """Invoices, credit notes, payments, receivables and disputes, as finance reads them."""
    programme, settlement, finance = jobcenter.config.programme_id, jobcenter.settlement, jobcenter.finance
    invoices = jobcenter.check(settlement.get(f"/v1/programmes/{programme}/invoices", headers=finance), 200)[
        "items"
    ]
    receivables = jobcenter.check(
        settlement.get(f"/v1/programmes/{programme}/receivables", headers=finance), 200
    )["items"]
    disputes = jobcenter.check(settlement.get(f"/v1/programmes/{programme}/disputes", headers=finance), 200)
    creditors = {}
    for row in receivables:
        creditor = row["creditor"]
        invoiced, credited = money(invoices, creditor, "invoice"), money(invoices, creditor, "credit_note")
        creditors[creditor] = {
            "invoices": invoiced[0],
            "invoiced_dkk": invoiced[1],
            "credit_notes": credited[0],
            "credited_dkk": credited[1],
            "statuses": dict(
                sorted(Counter(i["status"] for i in invoices if i["creditor"] == creditor).items())
            ),
        } | {
            key: row[key]
            for key in (
                "owed_dkk",
                "paid_dkk",
                "open_dkk",
                "overdue_dkk",
                "unapplied_credit_dkk",
                "held_by_disputes_dkk",
            )
        }
    return {
        "creditors": creditors,
        "payments_recorded": settled.payments,
        "payments_recorded_dkk": str(settled.paid_dkk),
        "invoice_paid_in_part": settled.paid_in_part,
        "invoice_left_unpaid": settled.left_unpaid,
        "disputes_by_state": dict(sorted(Counter(d["state"] for d in disputes["items"]).items())),
        "held_by_disputes_dkk": disputes["held"]["held_dkk"],
        "corrected_statuses_posted": settled.corrections_posted,
    }


def read_back(jobcenter: Jobcenter, people: list[Citizen], tally: Tally, settled: Settled) -> dict[str, Any]:
    """What the platform itself reports, through the same APIs an operator would use."""
    programme = jobcenter.config.programme_id
    settlement, progression = jobcenter.settlement, jobcenter.progression
    headers = jobcenter.jobcenter
    mix: Counter[str] = Counter()
    for citizen in people:
        timeline = jobcenter.check(
            progression.get(f"/v1/participants/{citizen.participant_id}/timeline", headers=headers), 200
        )
        # The status on the last day of the 2-year window, or at the cut-off when that comes first.
        cutoff = timeline["data_complete_through"]
        last = citizen.enrolled_on + timedelta(days=7 * 104 - 1)
        day = min(last.isoformat(), cutoff) if cutoff else last.isoformat()
        period = next(
            (p for p in timeline["periods"] if p["from"] <= day and (p["to"] is None or day <= p["to"])), None
        )
        if period is None or period["category"] == "unknown":
            mix["unknown"] += 1
        else:
            mix[period["code"] or "no record (self-supporting)"] += 1
    summary = jobcenter.check(settlement.get(f"/v1/programmes/{programme}/summary", headers=headers), 200)
    statements = jobcenter.check(
        settlement.get(f"/v1/programmes/{programme}/statements", headers=headers), 200
    )["items"]
    adjustments = [line for s in statements for line in s["lines"] if line["kind"] == "adjustment"]
    drafts = jobcenter.check(
        settlement.get(f"/v1/programmes/{programme}/statement-drafts", headers=headers), 200
    )["items"]
    outcomes = jobcenter.check(settlement.get(f"/v1/programmes/{programme}/outcomes", headers=headers), 200)
    economics = jobcenter.check(settlement.get(f"/v1/programmes/{programme}/economics", headers=headers), 200)
    return {
        "programme_id": programme,
        "citizens": len(people),
        "tracks": dict(Counter(c.track for c in people)),
        "cpr_failing_modulus_11": tally.modulus_11_failures,
        "records_posted": tally.posted,
        "records_late": tally.late,
        "records_correcting": tally.corrections,
        "statements_issued": tally.statements,
        # Each drafted by the jobcenter and approved by finance, another person.
        "statements_approved_by": sorted({d["closed_by"] for d in drafts if d["state"] == "issued"}),
        "statements_prepared_by": sorted(
            {p for d in drafts if d["state"] == "issued" for p in d["prepared_by"]}
        ),
        "seconds": round(tally.seconds, 1),
        "status_mix": dict(sorted(mix.items())),
        "fees_invoiced_dkk": summary["invoiced_dkk"],
        "total_cap_dkk": summary["total_cap_dkk"],
        "adjustment_lines": len(adjustments),
        "adjustment_sum_dkk": str(sum((Decimal(a["amount_dkk"]) for a in adjustments), Decimal("0.00"))),
        "outcome": {
            key: outcomes[key]
            for key in (
                "mean_weeks",
                "control_baseline_weeks",
                "effect_weeks",
                "effect_ci95",
                "target_uplift_weeks",
                "target_met",
                "windows_complete",
                "windows_open",
                "is_projection",
            )
        },
        "investor": {
            key: economics["investor"][key]
            for key in (
                "investment_dkk",
                "received_to_date_dkk",
                "projected_total_received_dkk",
                "net_result_dkk",
                "irr_annual",
                "realised_irr_annual",
                "paid_to_date_dkk",
            )
        },
        "accounts": settlement_of_accounts(jobcenter, settled),
        "municipality": {
            key: economics["municipality"][key]
            for key in ("avoided_public_support_weeks", "estimated_savings_dkk", "net_gain_dkk")
        },
    }


def print_summary(console: Console, s: dict[str, Any]) -> None:
    console.print(
        f"\n[bold]Simulated {s['citizens']} citizens[/bold] ({', '.join(f'{n} {t}' for t, n in s['tracks'].items())}; "
        f"{s['cpr_failing_modulus_11']} CPR numbers fail modulus 11, as post-2007 numbers may) in {s['seconds']} s: "
        f"{s['records_posted']:,} status records posted, {s['records_late']:,} late, {s['records_correcting']:,} correcting "
        f"invoiced months; {s['statements_issued']} statements, each drafted by "
        f"{', '.join(s['statements_prepared_by']) or 'nobody'} and approved by "
        f"{', '.join(s['statements_approved_by']) or 'nobody'}."
    )
    mix = Table(title="Status of the cohort at the end of each window (or the cut-off)")
    mix.add_column("latest status")
    mix.add_column("citizens", justify="right")
    for code, n in s["status_mix"].items():
        mix.add_row(code, str(n))
    console.print(mix)
    money = Table(title="Fees and results")
    money.add_column("figure")
    money.add_column("value", justify="right")
    o, inv, mun = s["outcome"], s["investor"], s["municipality"]
    ci = o["effect_ci95"] or {}
    rows = [
        (
            "fees invoiced / cap (DKK)",
            f"{Decimal(s['fees_invoiced_dkk']):,.2f} / {Decimal(s['total_cap_dkk']):,.2f}",
        ),
        (
            "adjustment lines (number, sum DKK)",
            f"{s['adjustment_lines']}, {Decimal(s['adjustment_sum_dkk']):,.2f}",
        ),
        (
            "self-supporting weeks of 104: cohort / control",
            f"{o['mean_weeks']} / {o['control_baseline_weeks']}",
        ),
        ("effect (weeks, 95 % CI)", f"{o['effect_weeks']} ({ci.get('low')} to {ci.get('high')})"),
        ("target +15 weeks met", f"{o['target_met']}" + (" (projection)" if o["is_projection"] else "")),
        ("windows complete / open", f"{o['windows_complete']} / {o['windows_open']}"),
        (
            "investor: invested / received (DKK)",
            f"{Decimal(inv['investment_dkk']):,.2f} / {Decimal(inv['projected_total_received_dkk']):,.2f}",
        ),
        ("investor: net result (DKK), IRR", f"{Decimal(inv['net_result_dkk']):,.2f}, {inv['irr_annual']}"),
        (
            "investor: paid to date (DKK), realised IRR",
            f"{Decimal(inv['paid_to_date_dkk']):,.2f}, {inv['realised_irr_annual']}",
        ),
        (
            "municipality: savings / net gain (DKK)",
            f"{Decimal(mun['estimated_savings_dkk']):,.2f} / {Decimal(mun['net_gain_dkk']):,.2f}",
        ),
    ]
    for name, value in rows:
        money.add_row(name, value)
    console.print(money)
    print_accounts(console, s["accounts"])
    if "erasure" in s:
        e = s["erasure"]
        console.print(
            f"Erasure: one more citizen, referred and withdrawn before enrolment, was ordered erased by the "
            f"jobcenter ({e['reason_code']}) and erased by intake's erasure job at {e['erased_at']}: participant "
            f"{e['participant_id']} now answers {e['intake_status']}, and a lookup by the CPR number finds "
            f"{e['found_by_cpr']} participants."
        )


def print_accounts(console: Console, a: dict[str, Any]) -> None:
    table = Table(title="Invoices, credit notes and payments per creditor (DKK)")
    for column in ("creditor", "invoices", "credit notes", "paid", "open", "overdue", "held by disputes"):
        table.add_column(column, justify="left" if column == "creditor" else "right")
    for creditor, c in a["creditors"].items():
        table.add_row(
            creditor,
            f"{c['invoices']}: {Decimal(c['invoiced_dkk']):,.2f}",
            f"{c['credit_notes']}: {Decimal(c['credited_dkk']):,.2f}",
            f"{Decimal(c['paid_dkk']):,.2f}",
            f"{Decimal(c['open_dkk']):,.2f}",
            f"{Decimal(c['overdue_dkk']):,.2f}",
            f"{Decimal(c['held_by_disputes_dkk']):,.2f}",
        )
    console.print(table)
    states = ", ".join(f"{n} {state}" for state, n in a["disputes_by_state"].items()) or "none"
    console.print(
        f"{a['payments_recorded']} payments recorded by finance ({Decimal(a['payments_recorded_dkk']):,.2f} DKK); "
        f"disputes: {states} (upheld ones posted {a['corrected_statuses_posted']} corrected status records)."
    )
