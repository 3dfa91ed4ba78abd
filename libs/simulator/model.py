"""The simulated cohort: citizens with synthetic CPR numbers and two years of benefit status drawn
from the exit rates in DOMAIN.md (seed 004, figure 7). Pure and seeded: the same seed gives the same
citizens, statuses, late records and corrections.

Exit model: a citizen who has been on sickness benefit for d weeks is still out of work a year later
with probability p(d) (figure 7: 1 week 15.8 %, 5 weeks 26.7 %, 13 weeks 43.3 %, 26 weeks 59.5 %,
52 weeks 75.2 %, 78 weeks 82.8 %; linear in between). -ln p(d) / 52 is the mean weekly exit hazard over
the year from week d, so it is taken as the hazard at the middle of that year, week d + 26 (and the
first one before that). The job-clarification track exits at 80 % of that hazard.
Sygedagpenge runs out after 22 weeks, after which a citizen still on it moves to jobafklaring. A
citizen who leaves goes to work (85 %) or education; each self-supporting week carries a 0.5 % risk of
a relapse onto sygedagpenge or kontanthjælp.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

STILL_OUT_AFTER_A_YEAR = ((1, 0.158), (5, 0.267), (13, 0.433), (26, 0.595), (52, 0.752), (78, 0.828))
WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
SYGEDAGPENGE_WEEKS = 22
RELAPSE_PER_WEEK = 0.005


def still_out(weeks_on_benefit: float) -> float:
    points = STILL_OUT_AFTER_A_YEAR
    if weeks_on_benefit <= points[0][0]:
        return points[0][1]
    for (w0, p0), (w1, p1) in itertools.pairwise(points):
        if weeks_on_benefit <= w1:
            return p0 + (p1 - p0) * (weeks_on_benefit - w0) / (w1 - w0)
    return points[-1][1]


def weekly_exit_hazard(weeks_on_benefit: float) -> float:
    return float(1 - math.exp(math.log(still_out(max(1.0, weeks_on_benefit - 26))) / 52))


def passes_modulus_11(digits: str) -> bool:
    return sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11 == 0


def synthetic_cpr(rng: random.Random, fail_modulus_11: bool) -> str:
    """A valid CPR number born 1960-1999 (7th digit 0-3: the 1900s) that passes modulus 11, or, as
    numbers issued since 2007 may, fails it."""
    while True:
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 40 * 365))
        head = f"{born:%d%m%y}{rng.randrange(0, 4)}{rng.randrange(0, 100):02d}"
        partial = sum(int(d) * w for d, w in zip(head, WEIGHTS, strict=False))
        check = (-partial) % 11
        if fail_modulus_11:
            last = (check + 1 + rng.randrange(0, 9)) % 10
            digits = head + str(last)
            if not passes_modulus_11(digits):
                return digits
        elif check < 10:
            return head + str(check)


@dataclass(frozen=True)
class Span:
    code: str
    start: date
    end: date  # inclusive


@dataclass
class Citizen:
    number: int
    cpr: str = field(repr=False)
    track: str
    referred_on: date
    enrolled_on: date
    prior_weeks: int
    spans: list[Span] = field(default_factory=list)
    participant_id: str | None = None


def trajectory(rng: random.Random, track: str, start: date, prior_weeks: int, weeks: int) -> list[Span]:
    """Week by week from ``start``: the status codes of ``weeks`` weeks, merged into spans."""
    codes: list[str] = []
    on_benefit = True
    code = track
    benefit_weeks = prior_weeks
    factor = 0.8 if track == "jobafklaring" else 1.0
    for _ in range(weeks):
        if on_benefit:
            benefit_weeks += 1
            if code == "sygedagpenge" and benefit_weeks > SYGEDAGPENGE_WEEKS:
                code = "jobafklaring"
            if rng.random() < weekly_exit_hazard(benefit_weeks) * factor:
                on_benefit, code = False, ("employed" if rng.random() < 0.85 else "education")
        elif rng.random() < RELAPSE_PER_WEEK:
            on_benefit, benefit_weeks = True, 0
            code = "sygedagpenge" if rng.random() < 0.7 else "kontanthjaelp"
        codes.append(code)
    spans: list[Span] = []
    for index, week_code in enumerate(codes):
        first = start + timedelta(days=7 * index)
        last = first + timedelta(days=6)
        if spans and spans[-1].code == week_code:
            spans[-1] = Span(week_code, spans[-1].start, last)
        else:
            spans.append(Span(week_code, first, last))
    return spans


def cohort(
    seed: int,
    citizens: int,
    first_month: date,
    enrolment_months: int,
    weeks: int,
    jobafklaring_share: float = 0.2,
    modulus_11_failures: float = 0.1,
) -> list[Citizen]:
    rng = random.Random(seed)
    out: list[Citizen] = []
    jobafklaring = round(citizens * jobafklaring_share)
    for n in range(citizens):
        track = "jobafklaring" if n >= citizens - jobafklaring else "sygedagpenge"
        month = n * enrolment_months // citizens
        first = date(
            first_month.year + (first_month.month - 1 + month) // 12,
            (first_month.month - 1 + month) % 12 + 1,
            1,
        )
        enrolled = first + timedelta(days=rng.randrange(0, 28))
        referred = enrolled - timedelta(days=rng.randrange(3, 15))
        prior = rng.randrange(4, 13) if track == "sygedagpenge" else rng.randrange(26, 60)
        citizen = Citizen(
            n,
            synthetic_cpr(rng, rng.random() < modulus_11_failures),
            track,
            referred,
            enrolled,
            prior,
        )
        citizen.spans = trajectory(rng, track, enrolled, prior, weeks)
        out.append(citizen)
    return out


@dataclass(frozen=True)
class Record:
    citizen: int
    code: str
    valid_from: date
    valid_to: date
    kind: str = "regular"  # regular, late, correction


def month_bounds(month: date) -> tuple[date, date]:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return month, following - timedelta(days=1)


def records_for_month(people: list[Citizen], month: date) -> list[Record]:
    """Each citizen's statuses within one calendar month, clipped to it."""
    first, last = month_bounds(month)
    records = []
    for citizen in people:
        for span in citizen.spans:
            start, end = max(span.start, first, citizen.enrolled_on), min(span.end, last)
            if start <= end:
                records.append(Record(citizen.number, span.code, start, end))
    return records


@dataclass
class Schedule:
    """When each record is posted: most in the month after, ``late_share`` one or two months later,
    and a few corrections of months already invoiced."""

    seed: int
    late_share: float = 0.17
    correction_share: float = 0.02
    pending: dict[int, list[Record]] = field(default_factory=dict)  # posting step -> records

    def plan(self, step: int, people: list[Citizen], month: date) -> None:
        rng = random.Random(self.seed * 1_000 + step)
        for record in records_for_month(people, month):
            if rng.random() < self.late_share:
                late = Record(record.citizen, record.code, record.valid_from, record.valid_to, "late")
                self.pending.setdefault(step + rng.choice((1, 2)), []).append(late)
            else:
                self.pending.setdefault(step, []).append(record)
            if record.code in ("employed", "education") and rng.random() < self.correction_share:
                # The jobcenter learns, months later, of a few sick days in a self-supporting month.
                day = record.valid_from + timedelta(
                    days=rng.randrange(0, (record.valid_to - record.valid_from).days + 1)
                )
                correction = Record(
                    record.citizen,
                    "sygedagpenge",
                    day,
                    min(day + timedelta(days=rng.randrange(1, 5)), record.valid_to),
                    "correction",
                )
                self.pending.setdefault(step + rng.choice((3, 4)), []).append(correction)

    def due(self, step: int) -> list[Record]:
        return self.pending.pop(step, [])
