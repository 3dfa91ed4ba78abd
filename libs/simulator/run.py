"""The simulated jobcenter: plays two years of a programme against the public REST APIs (httpx), in
simulated time, month by month: refer and enrol citizens, post last month's statuses in a batch (some
late, some correcting invoiced months), advance the data cut-off, issue the month's statement. Then
it reads back what the platform reports and prints a summary.

    python -m libs.simulator --citizens 150 --months 29 --seed 42
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from libs.common.auth import Role
from libs.common.devtoken import dev_token
from libs.common.settings import CommonSettings
from libs.simulator.model import Citizen, Record, Schedule, cohort, passes_modulus_11

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_PROGRAMME = REPO_ROOT / "deploy" / "seed" / "hedensted-2022.json"


@dataclass
class Config:
    intake_url: str = "http://127.0.0.1:8001"
    progression_url: str = "http://127.0.0.1:8002"
    settlement_url: str = "http://127.0.0.1:8003"
    programme_id: str = "hedensted-2022"
    citizens: int = 150
    months: int = 29  # enrolment over 3 months + 24 months of follow-up + 2 months' invoicing lag
    first_month: date = date(2024, 1, 1)
    enrolment_months: int = 3
    seed: int = 42
    late_share: float = 0.17
    correction_share: float = 0.02
    sync_timeout: float = 60.0


@dataclass
class Tally:
    posted: int = 0
    late: int = 0
    corrections: int = 0
    statements: int = 0
    modulus_11_failures: int = 0
    seconds: float = 0.0
    by_kind: Counter[str] = field(default_factory=Counter)


class Jobcenter:
    def __init__(self, config: Config, settings: CommonSettings | None = None) -> None:
        self.config = config
        scope = [config.programme_id]
        self.jobcenter = {"Authorization": f"Bearer {dev_token(Role.jobcenter, scope, 'sim-jobcenter')}"}
        self.admin = {"Authorization": f"Bearer {dev_token(Role.admin, subject='sim-admin')}"}
        self.intake = httpx.Client(base_url=config.intake_url, timeout=60)
        self.progression = httpx.Client(base_url=config.progression_url, timeout=120)
        self.settlement = httpx.Client(base_url=config.settlement_url, timeout=120)

    def close(self) -> None:
        for client in (self.intake, self.progression, self.settlement):
            client.close()

    @staticmethod
    def check(response: httpx.Response, *ok: int) -> dict[str, Any]:
        if response.status_code not in ok:
            raise RuntimeError(
                f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
            )
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    def ensure_programme(self) -> None:
        body = json.loads(SEED_PROGRAMME.read_text()) | {"programme_id": self.config.programme_id}
        existing = self.intake.get(f"/v1/programmes/{self.config.programme_id}", headers=self.admin)
        if existing.status_code == 404:
            self.check(self.intake.post("/v1/programmes", json=body, headers=self.admin), 200, 201)
        # Progression learns the programme from intake's event; its cut-off is refused (404) until then.
        deadline = time.monotonic() + self.config.sync_timeout
        while (
            self.progression.get(f"/v1/programmes/{self.config.programme_id}", headers=self.admin).status_code
            == 404
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"progression did not learn programme {self.config.programme_id}")
            time.sleep(0.05)

    def enrol(self, citizen: Citizen) -> None:
        referred = self.intake.post(
            "/v1/participants",
            json={
                "programme_id": self.config.programme_id,
                "cpr": citizen.cpr,
                "track": citizen.track,
                "referred_on": citizen.referred_on.isoformat(),
            },
            headers=self.jobcenter,
        )
        if referred.status_code == 409:  # a rerun against the same database: reuse the participant
            found = self.check(
                self.intake.post(
                    "/v1/participants/lookup", json={"cpr": citizen.cpr}, headers=self.jobcenter
                ),
                200,
            )
            citizen.participant_id = next(
                p["participant_id"] for p in found["items"] if p["programme_id"] == self.config.programme_id
            )
            return
        citizen.participant_id = self.check(referred, 201)["participant_id"]
        self.check(
            self.intake.post(
                f"/v1/participants/{citizen.participant_id}/enrolment",
                json={
                    "enrolled_on": citizen.enrolled_on.isoformat(),
                    "consent_given_on": citizen.referred_on.isoformat(),
                },
                headers=self.jobcenter,
            ),
            200,
        )

    def post_records(self, people: list[Citizen], records: list[Record], step: int) -> int:
        if not records:
            return 0
        body = {
            "records": [
                {
                    "participant_id": people[r.citizen].participant_id,
                    "code": r.code,
                    "valid_from": r.valid_from.isoformat(),
                    "valid_to": r.valid_to.isoformat(),
                }
                for r in records
            ]
        }
        key = {"Idempotency-Key": f"sim-{self.config.seed}-{self.config.programme_id}-{step}"}
        result = self.check(
            self.progression.post("/v1/status-records/batch", json=body, headers=self.jobcenter | key),
            200,
            201,
        )
        return int(result["created"])

    def advance_cutoff(self, through: date) -> None:
        self.check(
            self.progression.put(
                f"/v1/programmes/{self.config.programme_id}/data-cutoff",
                json={"complete_through": through.isoformat()},
                headers=self.jobcenter,
            ),
            200,
            409,  # already further (a rerun)
        )

    def wait_for_settlement(self, records: int, cutoff: date | None) -> None:
        """Until settlement holds every record posted and the cut-off (it learns them by events)."""
        deadline = time.monotonic() + self.config.sync_timeout
        while True:
            response = self.settlement.get(
                f"/v1/programmes/{self.config.programme_id}/summary", headers=self.jobcenter
            )
            if response.status_code == 200:
                summary = response.json()
                through = summary["data_complete_through"]
                if summary["status_records_held"] >= records and (
                    cutoff is None or (through and through >= cutoff.isoformat())
                ):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"settlement did not catch up within {self.config.sync_timeout:.0f} s")
            time.sleep(0.05)

    def issue_statement(self, period: date) -> None:
        self.check(
            self.settlement.post(
                f"/v1/programmes/{self.config.programme_id}/statements",
                json={"period": f"{period:%Y-%m}"},
                headers=self.jobcenter,
            ),
            200,
            201,
        )


def add_months(month: date, n: int) -> date:
    index = month.month - 1 + n
    return date(month.year + index // 12, index % 12 + 1, 1)


def simulate(
    config: Config, console: Console | None = None, settings: CommonSettings | None = None
) -> dict[str, Any]:
    console = console or Console()
    started = time.monotonic()
    people = cohort(config.seed, config.citizens, config.first_month, config.enrolment_months, weeks=104 + 8)
    schedule = Schedule(config.seed, config.late_share, config.correction_share)
    tally = Tally(modulus_11_failures=sum(1 for c in people if not passes_modulus_11(c.cpr)))
    jobcenter = Jobcenter(config, settings)
    try:
        jobcenter.ensure_programme()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("simulated months", total=config.months)
            for step in range(config.months):
                month = add_months(config.first_month, step)
                progress.update(task, description=f"simulating {month:%Y-%m}")
                for citizen in people:
                    if citizen.participant_id is None and citizen.enrolled_on < add_months(month, 1):
                        jobcenter.enrol(citizen)
                previous = add_months(month, -1)
                enrolled = [c for c in people if c.participant_id is not None]
                if step > 0:
                    schedule.plan(step, enrolled, previous)
                due = schedule.due(step)
                tally.by_kind.update(r.kind for r in due)
                tally.posted += jobcenter.post_records(people, due, step)
                cutoff = add_months(month, 0) - timedelta(days=1) if step > 0 else None
                if cutoff is not None:
                    jobcenter.advance_cutoff(cutoff)
                jobcenter.wait_for_settlement(tally.posted, cutoff)
                jobcenter.issue_statement(month)
                tally.statements += 1
                progress.advance(task)
        tally.late, tally.corrections = tally.by_kind["late"], tally.by_kind["correction"]
        tally.seconds = time.monotonic() - started
        summary = read_back(jobcenter, people, tally)
    finally:
        jobcenter.close()
    print_summary(console, summary)
    return summary


def read_back(jobcenter: Jobcenter, people: list[Citizen], tally: Tally) -> dict[str, Any]:
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
            )
        },
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
        f"invoiced months; {s['statements_issued']} statements."
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
            "municipality: savings / net gain (DKK)",
            f"{Decimal(mun['estimated_savings_dkk']):,.2f} / {Decimal(mun['net_gain_dkk']):,.2f}",
        ),
    ]
    for name, value in rows:
        money.add_row(name, value)
    console.print(money)
