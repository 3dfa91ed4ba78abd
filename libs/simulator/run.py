"""The simulated jobcenter: plays two years of a programme against the public REST APIs (httpx), in
simulated time, month by month: refer and enrol citizens, post last month's statuses in a batch (some
late, some correcting invoiced months), advance the data cut-off, draft the month's statement and
approve it as finance (before the first month, one more citizen withdraws before enrolment and the
jobcenter has their data erased: erasure.py); then the provider disputes a few lines, the jobcenter resolves them and finance
records the invoices' payments (settling.py). Then it reads back what the platform reports and prints a
summary.

    python -m libs.simulator --citizens 150 --months 29 --seed 42
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from libs.common.settings import CommonSettings
from libs.simulator.erasure import erase_one_withdrawn_citizen
from libs.simulator.jobcenter import REPO_ROOT, SEED_PROGRAMME, Config, Jobcenter
from libs.simulator.model import Schedule, cohort, passes_modulus_11
from libs.simulator.settling import Settling
from libs.simulator.summary import Tally, print_summary, read_back


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
    settling = Settling(jobcenter)
    try:
        jobcenter.ensure_programme()
        erasure = erase_one_withdrawn_citizen(jobcenter, people)
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
                statement = jobcenter.issue_statement(month)
                tally.statements += 1
                # Disputes and payments; an upheld dispute's corrected status counts as posted.
                tally.posted += settling.after_issue(statement, month)
                progress.advance(task)
        tally.late, tally.corrections = tally.by_kind["late"], tally.by_kind["correction"]
        tally.seconds = time.monotonic() - started
        summary = read_back(jobcenter, people, tally, settling.settled) | {"erasure": erasure}
    finally:
        jobcenter.close()
    print_summary(console, summary)
    return summary


__all__ = [
    "REPO_ROOT",
    "SEED_PROGRAMME",
    "Config",
    "Jobcenter",
    "Tally",
    "add_months",
    "print_summary",
    "read_back",
    "simulate",
]
