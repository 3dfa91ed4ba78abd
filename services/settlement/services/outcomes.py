"""The outcome and economics reports of a programme, from settlement's copies of participants, status
records, cut-offs, months and statements. Person-level rows only for jobcenter, provider and admin;
investors get the aggregates, under the small-cell rule (domain/disclosure.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import StatusCode
from libs.common.db import Database
from libs.common.errors import NotFound, ValidationFailed
from libs.common.reports import Chart
from libs.common.uow import UnitOfWork
from libs.rules.timeline import StatusRecord, resolve
from services.settlement.domain import Enrolment, Month, months_of, window_for
from services.settlement.domain.calculation import categories_under, day_lookup
from services.settlement.domain.disclosure import MIN_CITIZENS, withhold_small_outcomes
from services.settlement.domain.economics import (
    Assumptions,
    CashFlow,
    Citizen,
    avoided_support_savings,
    cap_schedule,
    irr,
)
from services.settlement.domain.outcomes import (
    WINDOW_WEEKS,
    Subject,
    WeekCount,
    bootstrap_effect,
    count_weeks,
    effect,
    mean,
    projected_weeks,
    q,
    recent_share,
    weighted_baseline,
    window_month_shares,
)
from services.settlement.domain.statements import split_cumulative
from services.settlement.domain.terms import TermsVersion
from services.settlement.models import EconomicAssumptionsRow, ParticipantRow, StatementRow
from services.settlement.repository import (
    FactsRepository,
    MonthRepository,
    RecordTuple,
    StatementRepository,
)
from services.settlement.services.months import terms_versions

ZERO = Decimal("0")


@dataclass(frozen=True)
class Evaluated:
    participant: ParticipantRow
    count: WeekCount
    projected: Decimal
    recent_share: Decimal  # share used for the projection (self-supporting weeks of the last 13)


@dataclass(frozen=True)
class Cohort:
    programme_id: str
    current: TermsVersion
    cutoff: date | None
    evaluated: list[Evaluated]
    min_citizens: int = 1  # the small-cell rule of what the reader sees (MIN_CITIZENS: the investor)

    @property
    def baseline(self) -> dict[str, Decimal]:
        return dict(self.current.terms.control_baseline_weeks)

    def subjects(self) -> list[Subject]:
        return [Subject(e.participant.track, e.projected) for e in self.evaluated]


@dataclass(frozen=True)
class CohortFacts:
    """What a cohort is evaluated from, read in one transaction (``read_cohort``). Evaluating it is
    pure work that grows with the cohort: a route may do it beside the event loop."""

    programme_id: str
    versions: list[TermsVersion]
    cutoff: date | None
    participants: list[ParticipantRow]
    records: dict[str, list[RecordTuple]]
    min_citizens: int = 1  # the small-cell rule of the reader (MIN_CITIZENS for the investor)


async def read_cohort(uow: UnitOfWork, principal: Principal, programme_id: str) -> CohortFacts:
    versions = await versions_or_404(uow, principal, programme_id)
    facts = FactsRepository(uow.session)
    cutoff_row = await facts.cutoff(programme_id)
    return CohortFacts(
        programme_id,
        versions,
        cutoff_row.complete_through if cutoff_row else None,
        list(await facts.participants_of(programme_id)),
        await facts.records_of_programme(programme_id),
        1 if _person_level(principal) else MIN_CITIZENS,
    )


async def cohort_facts(database: Database, principal: Principal, programme_id: str) -> CohortFacts:
    async with UnitOfWork(database) as uow:
        return await read_cohort(uow, principal, programme_id)


def evaluate_cohort(facts: CohortFacts) -> Cohort:
    """Each enrolled citizen's weeks, projection and recent share, from their status records."""
    versions, cutoff = facts.versions, facts.cutoff
    current = max(versions, key=lambda v: v.version)
    evaluated: list[Evaluated] = []
    baseline = dict(current.terms.control_baseline_weeks)
    for participant in sorted(facts.participants, key=lambda p: p.participant_id):
        if participant.enrolled_on is None:
            continue  # referred, never enrolled: not in the cohort
        found = window_for(Enrolment(participant.track, participant.enrolled_on, None), versions)
        assert found is not None
        _, at_enrolment = found
        periods = resolve(
            [
                StatusRecord(record_id, StatusCode(code), valid_from, valid_to, seq, as_utc(recorded_at))
                for record_id, code, valid_from, valid_to, seq, recorded_at in facts.records.get(
                    participant.participant_id, []
                )
            ],
            categories_under(at_enrolment),
            cutoff,
            participant.enrolled_on,
        )
        count = count_weeks(participant.enrolled_on, day_lookup(periods), cutoff)
        track_baseline = baseline.get(participant.track, ZERO)
        evaluated.append(
            Evaluated(
                participant,
                count,
                projected_weeks(count, track_baseline),
                recent_share(count, track_baseline),
            )
        )
    return Cohort(facts.programme_id, current, cutoff, evaluated, facts.min_citizens)


def _person_level(principal: Principal) -> bool:
    return principal.role in (Role.jobcenter, Role.provider, Role.admin)


def outcome_rows(cohort: Cohort) -> list[dict[str, Any]]:
    return [
        {
            "participant_id": e.participant.participant_id,
            "track": e.participant.track,
            "enrolled_on": e.participant.enrolled_on,
            "withdrawn_on": e.participant.withdrawn_on,
            "weeks_observed": e.count.observed,
            "self_supporting_weeks": e.count.self_supporting,
            "window_complete": e.count.complete,
            "projected_self_supporting_weeks": None if e.count.complete else e.projected,
        }
        for e in cohort.evaluated
    ]


def outcomes(cohort: Cohort, principal: Principal, seed: int = 2022, resamples: int = 2000) -> dict[str, Any]:
    subjects = cohort.subjects()
    baseline = cohort.baseline
    tracks: list[dict[str, Any]] = []
    for track in sorted({*cohort.current.terms.tracks, *(e.participant.track for e in cohort.evaluated)}):
        members = [e for e in cohort.evaluated if e.participant.track == track]
        complete = [Decimal(e.count.self_supporting) for e in members if e.count.complete]
        projected = mean([e.projected for e in members])
        tracks.append(
            {
                "track": track,
                "participants": len(members),
                "windows_complete": len(complete),
                "mean_weeks_complete_windows": q(m) if (m := mean(complete)) is not None else None,
                "mean_weeks_projected": q(projected) if projected is not None else None,
                "control_baseline_weeks": baseline.get(track),
            }
        )
    interval = bootstrap_effect(subjects, baseline, resamples=resamples, seed=seed)
    point = q(effect(subjects, baseline)) if subjects else None
    target = cohort.current.terms.target_uplift_weeks
    complete_count = sum(1 for e in cohort.evaluated if e.count.complete)
    overall_mean = mean([s.weeks for s in subjects])
    report: dict[str, Any] = {
        "programme_id": cohort.programme_id,
        "data_complete_through": cohort.cutoff,
        "computed_at": utcnow(),
        "method": (
            "Self-supporting weeks in the 104 weeks from enrolment (7-day blocks; a week counts when all "
            "7 days are self-supporting), intention to treat. Open windows are projected: observed weeks "
            "plus the remaining weeks at the citizen's self-supporting share of their last 13 observed "
            "weeks (the track's baseline share before any week is observed). Effect = cohort mean minus "
            "the control baseline weighted by the cohort's track mix; 95 % percentile bootstrap over "
            "citizens."
        ),
        "participants": len(cohort.evaluated),
        "windows_complete": complete_count,
        "windows_open": len(cohort.evaluated) - complete_count,
        "is_projection": complete_count < len(cohort.evaluated),
        "tracks": tracks,
        "mean_weeks": q(overall_mean) if overall_mean is not None else None,
        "control_baseline_weeks": q(weighted_baseline(subjects, baseline)) if subjects else None,
        "effect_weeks": point,
        "effect_ci95": (
            {
                "low": interval.low,
                "high": interval.high,
                "resamples": interval.resamples,
                "seed": interval.seed,
            }
            if interval
            else None
        ),
        "target_uplift_weeks": target,
        "target_met": point is not None and point >= target,
        "target_met_at_95": interval is not None and interval.low >= target,
    }
    withhold_small_outcomes(report, cohort.min_citizens)
    if _person_level(principal):
        report["items"] = outcome_rows(cohort)
    return report


OUTCOME_COLUMNS = [
    "participant_id",
    "track",
    "enrolled_on",
    "withdrawn_on",
    "weeks_observed",
    "self_supporting_weeks",
    "window_complete",
    "projected_self_supporting_weeks",
]
OUTCOME_TRACK_COLUMNS = [
    "track",
    "participants",
    "windows_complete",
    "mean_weeks_complete_windows",
    "mean_weeks_projected",
    "control_baseline_weeks",
    "mean_weeks_complete_windows_suppressed",
    "mean_weeks_projected_suppressed",
]


def outcomes_chart(cohort: Cohort) -> Chart:
    subjects = cohort.subjects()
    shares = window_month_shares([e.count for e in cohort.evaluated], min_citizens=cohort.min_citizens)
    base = weighted_baseline(subjects, cohort.baseline) / WINDOW_WEEKS if subjects else ZERO
    return Chart(
        title=f"{cohort.programme_id}: share of the cohort self-supporting, by month of the 2-year window",
        x_labels=[str(m + 1) for m in range(len(shares))],
        series={"cohort (observed weeks)": list(shares)},
        reference_lines={"control baseline": base},
        y_label="self-supporting weeks / observed weeks",
        x_label="month since enrolment",
        y_percent=True,
    )


# --- economics ----------------------------------------------------------------------------------


def assumptions_from(data: dict[str, Any] | None) -> Assumptions:
    if not data:
        return Assumptions()
    return Assumptions(
        weekly_rates={
            track: {int(year): Decimal(rate) for year, rate in rates.items()}
            for track, rates in data["weekly_rates"].items()
        },
        refund_staircase=tuple(
            (int(step["from_week"]), Decimal(step["refund_percent"]) / 100)
            for step in data["refund_staircase"]
        ),
        prior_weeks_on_support={k: int(v) for k, v in data.get("prior_weeks_on_support", {}).items()},
    )


def assumptions_document(assumptions: Assumptions, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "weekly_rates": {
            track: {str(year): str(rate) for year, rate in sorted(rates.items())}
            for track, rates in assumptions.weekly_rates.items()
        },
        "refund_staircase": [
            {"from_week": week, "refund_percent": str((share * 100).quantize(Decimal("0.01")))}
            for week, share in assumptions.refund_staircase
        ],
        "prior_weeks_on_support": dict(assumptions.prior_weeks_on_support),
    }


async def stored_assumptions(uow: UnitOfWork, programme_id: str) -> tuple[Assumptions, str]:
    row = await uow.session.get(EconomicAssumptionsRow, programme_id)
    return (assumptions_from(row.assumptions), "programme") if row else (Assumptions(), "default")


@dataclass(frozen=True)
class Economics:
    report: dict[str, Any]
    investor_flows: list[CashFlow]
    fee_months: list[tuple[Month, Decimal, str]]  # month, cumulative amount, kind (invoiced/projected)
    total_cap: Decimal


@dataclass(frozen=True)
class EconomicsFacts:
    """What the economics are computed from, read in one transaction (``economics_facts``)."""

    cohort: CohortFacts
    assumptions: Assumptions
    source: str
    statements: list[StatementRow]
    fees: list[tuple[Decimal, bool]]  # (fee_dkk, provisional) of every month of the programme


async def economics_facts(database: Database, principal: Principal, programme_id: str) -> EconomicsFacts:
    async with UnitOfWork(database) as uow:
        cohort = await read_cohort(uow, principal, programme_id)
        assumptions, source = await stored_assumptions(uow, programme_id)
        statements = list(await StatementRepository(uow.session).of_programme(programme_id))
        fees = await MonthRepository(uow.session).fees_of_programme(programme_id)
    return EconomicsFacts(cohort, assumptions, source, statements, fees)


def economics(facts: EconomicsFacts) -> Economics:
    """Pure work that grows with the cohort (every open window's months): a route may do it beside
    the event loop."""
    cohort = evaluate_cohort(facts.cohort)
    programme_id, assumptions, source = cohort.programme_id, facts.assumptions, facts.source
    statements = facts.statements
    terms = cohort.current.terms
    split = terms.split.investor_percent
    invoiced = Decimal(statements[-1].content["totals"]["cumulative_invoiced"]) if statements else ZERO
    earned = sum((fee for fee, provisional in facts.fees if not provisional), ZERO)
    pending = max(ZERO, min(terms.total_cap_dkk, earned) - invoiced)

    # Future fees: each month of a fee window not yet complete in the data, at the citizen's recent share.
    today = Month.of(utcnow().date())
    next_invoice = max(today, Month.parse(statements[-1].period).plus(1)) if statements else today
    future: list[tuple[Month, Decimal]] = [(next_invoice, pending)] if pending else []
    for e in cohort.evaluated:
        p = e.participant
        assert p.enrolled_on is not None
        found = window_for(Enrolment(p.track, p.enrolled_on, p.withdrawn_on), [cohort.current])
        if found is None:
            continue
        window, _ = found
        fee = terms.fee_for_track(p.track)
        for month in months_of(window):
            if cohort.cutoff is not None and month.last_day <= cohort.cutoff:
                continue
            in_window = (min(month.last_day, window.end) - max(month.first_day, window.start)).days + 1
            amount = q(fee * e.recent_share * in_window / month.days)
            future.append((max(month.plus(terms.settlement_lag_months), next_invoice), amount))
    projected = cap_schedule(invoiced, future, terms.total_cap_dkk)
    projected_total = sum((a for _, a in projected), ZERO)

    # The investor: the investment out when the first citizen is enrolled, its share of each payment in.
    starts = [e.participant.enrolled_on for e in cohort.evaluated if e.participant.enrolled_on]
    start = Month.of(min(starts)) if starts else Month.of(cohort.current.effective_from)
    flows = [CashFlow(start, -terms.investment_dkk, "investment")] if terms.investment_dkk else []
    flows += [
        CashFlow(Month.parse(s.period), Decimal(s.content["totals"]["investor"]), "payment")
        for s in statements
    ]
    running = invoiced
    for month, amount in projected:
        before, _ = split_cumulative(running, split)
        running += amount
        after, _ = split_cumulative(running, split)
        flows.append(CashFlow(month, after - before, "projected_payment"))
    total_fees = invoiced + projected_total
    investor_total, provider_total = split_cumulative(total_fees, split)
    investor_to_date, provider_to_date = split_cumulative(invoiced, split)
    citizens = [
        Citizen(e.participant.track, e.participant.enrolled_on, e.projected)
        for e in cohort.evaluated
        if e.participant.enrolled_on is not None
    ]
    avoided_weeks, savings = avoided_support_savings(citizens, cohort.baseline, assumptions)
    open_windows = sum(1 for e in cohort.evaluated if not e.count.complete)
    rate = irr(flows)
    report: dict[str, Any] = {
        "programme_id": programme_id,
        "data_complete_through": cohort.cutoff,
        "computed_at": utcnow(),
        "is_projection": open_windows > 0 or projected_total > 0,
        "windows_open": open_windows,
        "fees": {
            "invoiced_to_date_dkk": invoiced,
            "earned_not_yet_invoiced_dkk": q(pending),
            "projected_further_dkk": q(projected_total - pending) if projected_total >= pending else ZERO,
            "projected_total_dkk": q(total_fees),
            "total_cap_dkk": terms.total_cap_dkk,
            "statements": len(statements),
        },
        "investor": {
            "investment_dkk": terms.investment_dkk,
            "received_to_date_dkk": investor_to_date,
            "projected_total_received_dkk": investor_total,
            "net_result_dkk": investor_total - terms.investment_dkk,
            "irr_annual": rate,
            "cash_flows": [{"month": str(f.month), "amount_dkk": f.amount, "kind": f.kind} for f in flows],
        },
        "provider": {
            "share_percent": terms.split.provider_percent,
            "received_to_date_dkk": provider_to_date,
            "projected_total_received_dkk": provider_total,
        },
        "municipality": {
            "avoided_public_support_weeks": q(avoided_weeks),
            "estimated_savings_dkk": savings,
            "fees_dkk": q(total_fees),
            "net_gain_dkk": q(savings - total_fees),
            "assumptions": assumptions_document(assumptions, source),
        },
        "method": (
            "Savings: for each citizen, the weeks on public support the control group would have had "
            "(104 minus the track's baseline) minus their own (104 minus their self-supporting weeks, "
            "projected for open windows), valued at the benefit rate of each week's year and the "
            "municipality's share after the state refund staircase by cumulative weeks on support. Fees: "
            "invoiced to date, plus what is earned but not invoiced, plus each open window's remaining "
            "months at the citizen's recent self-supporting share, capped. Investor: the investment out "
            "in the month of the first enrolment, its share of each statement in the statement's month."
        ),
    }
    fee_months: list[tuple[Month, Decimal, str]] = []
    cumulative = ZERO
    for s in statements:
        cumulative = Decimal(s.content["totals"]["cumulative_invoiced"])
        fee_months.append((Month.parse(s.period), cumulative, "invoiced"))
    for month, amount in projected:
        cumulative += amount
        fee_months.append((month, cumulative, "projected"))
    return Economics(report, flows, fee_months, terms.total_cap_dkk)


def economics_rows(result: Economics) -> list[dict[str, Any]]:
    """The CSV: one row per cash flow of the investor, and one per headline figure."""
    r = result.report
    rows: list[dict[str, Any]] = []
    for section in ("fees", "investor", "provider", "municipality"):
        for name, value in r[section].items():
            if isinstance(value, list | dict):
                continue
            rows.append({"section": section, "item": name, "value": value})
    for flow in r["investor"]["cash_flows"]:
        rows.append(
            {
                "section": "investor_cash_flow",
                "item": f"{flow['month']} {flow['kind']}",
                "value": flow["amount_dkk"],
            }
        )
    return rows


def economics_chart(result: Economics) -> Chart:
    months = sorted({m for m, _, _ in result.fee_months})
    invoiced = {m: v for m, v, kind in result.fee_months if kind == "invoiced"}
    projected = {m: v for m, v, kind in result.fee_months if kind == "projected"}
    return Chart(
        title=f"{result.report['programme_id']}: cumulative fees against the cap",
        x_labels=[str(m) for m in months],
        series={
            "invoiced (statements)": [invoiced.get(m) for m in months],
            "projected": [projected.get(m) for m in months],
        },
        reference_lines={"total cap": result.total_cap},
        y_label="DKK",
    )


async def get_assumptions(database: Database, principal: Principal, programme_id: str) -> dict[str, Any]:
    async with UnitOfWork(database) as uow:
        await versions_or_404(uow, principal, programme_id)
        assumptions, source = await stored_assumptions(uow, programme_id)
    return assumptions_document(assumptions, source)


async def put_assumptions(
    database: Database, principal: Principal, programme_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Replace the programme's assumptions (rates per track and year, staircase, prior weeks)."""
    async with UnitOfWork(database) as uow:
        current = max(await versions_or_404(uow, principal, programme_id), key=lambda v: v.version)
        tracks = set(current.terms.tracks)
        for name in ("weekly_rates", "prior_weeks_on_support"):
            unknown = sorted(set(data.get(name, {})) - tracks)
            if unknown:
                raise ValidationFailed.for_field(
                    f"{name}.{unknown[0]}", f"not a track of the programme ({', '.join(sorted(tracks))})"
                )
        missing = sorted(tracks - set(data["weekly_rates"]))
        if missing:
            raise ValidationFailed.for_field(f"weekly_rates.{missing[0]}", "every track needs its rates")
        row = await uow.session.get(EconomicAssumptionsRow, programme_id)
        if row is None:
            row = EconomicAssumptionsRow(programme_id=programme_id)
            uow.session.add(row)
        row.assumptions, row.updated_at, row.updated_by = data, utcnow(), principal.subject
        await uow.commit()
    return assumptions_document(assumptions_from(data), "programme")


async def versions_or_404(uow: UnitOfWork, principal: Principal, programme_id: str) -> list[TermsVersion]:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    versions = await terms_versions(uow, programme_id)
    if not versions:
        raise NotFound(f"No programme {programme_id}.")
    return versions
