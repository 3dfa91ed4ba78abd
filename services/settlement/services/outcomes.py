"""The outcome and economics reports of a programme, from settlement's copies of participants, status
records, cut-offs, months and statements. Person-level rows only for jobcenter, provider and admin;
investors get the aggregates, under the small-cell rule (domain/disclosure.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import StatusCode
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.uow import UnitOfWork
from libs.rules.timeline import StatusRecord, resolve
from services.settlement.domain import Enrolment, window_for
from services.settlement.domain.calculation import categories_under, day_lookup
from services.settlement.domain.disclosure import MIN_CITIZENS, withhold_small_outcomes
from services.settlement.domain.outcomes import (
    WINDOW_WEEKS,
    CitizenOutcome,
    OutcomeReport,
    Subject,
    TrackOutcome,
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
from services.settlement.domain.terms import TermsVersion
from services.settlement.models import ParticipantRow
from services.settlement.repository import (
    FactsRepository,
    RecordTuple,
)
from services.settlement.services.programme_facts import terms_versions

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
    return principal.role in (Role.jobcenter, Role.provider, Role.admin, Role.auditor)


def reads_people(principal: Principal) -> bool:
    """Whether this caller's outcome report has a row per citizen (the read audit records it)."""
    return _person_level(principal)


def outcome_rows(cohort: Cohort) -> list[CitizenOutcome]:
    return [
        CitizenOutcome(
            participant_id=e.participant.participant_id,
            track=e.participant.track,
            enrolled_on=e.participant.enrolled_on,
            withdrawn_on=e.participant.withdrawn_on,
            weeks_observed=e.count.observed,
            self_supporting_weeks=e.count.self_supporting,
            window_complete=e.count.complete,
            projected_self_supporting_weeks=None if e.count.complete else e.projected,
        )
        for e in cohort.evaluated
    ]


def outcomes(cohort: Cohort, principal: Principal, seed: int = 2022, resamples: int = 2000) -> OutcomeReport:
    subjects = cohort.subjects()
    baseline = cohort.baseline
    tracks: list[TrackOutcome] = []
    for track in sorted({*cohort.current.terms.tracks, *(e.participant.track for e in cohort.evaluated)}):
        members = [e for e in cohort.evaluated if e.participant.track == track]
        complete = [Decimal(e.count.self_supporting) for e in members if e.count.complete]
        projected = mean([e.projected for e in members])
        tracks.append(
            TrackOutcome(
                track=track,
                participants=len(members),
                windows_complete=len(complete),
                mean_weeks_complete_windows=q(m) if (m := mean(complete)) is not None else None,
                mean_weeks_projected=q(projected) if projected is not None else None,
                control_baseline_weeks=baseline.get(track),
            )
        )
    interval = bootstrap_effect(subjects, baseline, resamples=resamples, seed=seed)
    point = q(effect(subjects, baseline)) if subjects else None
    target = cohort.current.terms.target_uplift_weeks
    complete_count = sum(1 for e in cohort.evaluated if e.count.complete)
    overall_mean = mean([s.weeks for s in subjects])
    report = OutcomeReport(
        programme_id=cohort.programme_id,
        data_complete_through=cohort.cutoff,
        computed_at=utcnow(),
        participants=len(cohort.evaluated),
        windows_complete=complete_count,
        windows_open=len(cohort.evaluated) - complete_count,
        is_projection=complete_count < len(cohort.evaluated),
        tracks=tracks,
        mean_weeks=q(overall_mean) if overall_mean is not None else None,
        control_baseline_weeks=q(weighted_baseline(subjects, baseline)) if subjects else None,
        effect_weeks=point,
        effect_ci95=interval,
        target_uplift_weeks=target,
        target_met=point is not None and point >= target,
        target_met_at_95=interval is not None and interval.low >= target,
    )
    report = withhold_small_outcomes(report, cohort.min_citizens)
    if _person_level(principal):
        report = replace(report, items=outcome_rows(cohort))
    return report


@dataclass(frozen=True)
class WindowShares:
    """What the outcome chart shows: per month of the window, the cohort's self-supporting share (small
    cells left out), against the control baseline weighted by the cohort's track mix."""

    programme_id: str
    shares: list[Decimal | None]
    control_baseline: Decimal


def window_shares(cohort: Cohort) -> WindowShares:
    subjects = cohort.subjects()
    shares = window_month_shares([e.count for e in cohort.evaluated], min_citizens=cohort.min_citizens)
    base = weighted_baseline(subjects, cohort.baseline) / WINDOW_WEEKS if subjects else ZERO
    return WindowShares(cohort.programme_id, shares, base)


async def versions_or_404(uow: UnitOfWork, principal: Principal, programme_id: str) -> list[TermsVersion]:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    versions = await terms_versions(uow, programme_id)
    if not versions:
        raise NotFound(f"No programme {programme_id}.")
    return versions
