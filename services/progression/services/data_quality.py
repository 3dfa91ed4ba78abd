"""The data-quality monitor of a programme (docs/domain.md "Data quality"): discrepancies between the
provider's exit milestones and the jobcenter's timeline, late status records, and the data cut-off's
lag. Read-only. The facts are read in a few set-based queries (``data_quality_facts``), then folded in
one pass per participant (``data_quality``, run beside the event loop by the route).

Lateness and discrepancies are also given per jobcenter feed: the subject of the token that posted a
record (its feed ``unknown`` for records posted before that was kept)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from operator import itemgetter

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc
from libs.common.contracts import MilestoneKind, StatusCategory, StatusCode
from libs.common.dates import DENMARK
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.uow import UnitOfWork
from libs.rules.timeline import Cutoff, StatusRecord, cutoff_as_of, resolve
from services.progression.domain.data_quality import (
    EXIT_MILESTONES,
    FEED_UNKNOWN,
    MIN_CITIZENS,
    CutoffMove,
    Discrepancy,
    DiscrepancyKind,
    Lateness,
    Milestone,
    MonthLag,
    cutoff_lags,
    days_late,
    discrepancies,
    feed_of,
    month_end,
    period_end,
    small_counts,
    small_feed_counts,
    suppressed_overlapping,
)
from services.progression.repository import ProgrammeRepository
from services.progression.repository.data_quality import (
    DataQualityRepository,
    MilestoneTuple,
    RecordTuple,
)

TOTAL = "total"


def reads_people(principal: Principal) -> bool:
    return principal.role in (Role.jobcenter, Role.provider, Role.admin, Role.auditor)


@dataclass(frozen=True)
class DataQualityFacts:
    programme_id: str
    categories: dict[StatusCode, StatusCategory]
    cutoffs: list[Cutoff]
    records: Sequence[RecordTuple]
    milestones: Sequence[MilestoneTuple]
    referred_on: dict[str, date]
    as_of: date
    known_until: datetime  # the records, milestones and cut-off moves recorded before this moment count
    window: timedelta
    person_level: bool


@dataclass(frozen=True)
class LateMonth:
    month: str  # the month the records' periods end in
    lateness: Lateness


@dataclass(frozen=True)
class FeedLateness:
    feed: str
    lateness: Lateness | None  # None: withheld from a reader who may not see people (small cell)


@dataclass(frozen=True)
class DataQualityReport:
    """The monitor's answer. For a reader who may not see people, ``discrepancies`` is None,
    ``late_by_month`` empty, counts of 1 to MIN_CITIZENS - 1 citizens None, and ``late`` None when the
    programme's records are of 1 to MIN_CITIZENS - 1 citizens; per feed, the same rule over the feeds'
    citizens (``suppressed_overlapping``). ``record_feeds`` names the feed of each discrepancy's
    record."""

    programme_id: str
    as_of: date
    discrepancy_weeks: int
    cutoff: date | None
    cutoff_behind_days: int | None  # as_of minus the cut-off in force: how far the data lags the calendar
    discrepancy_counts: dict[str, int | None]  # per DiscrepancyKind and TOTAL, in citizens
    discrepancies: list[Discrepancy] | None
    late: Lateness | None
    late_by_month: list[LateMonth]
    cutoff_lags: list[MonthLag]
    person_level: bool
    late_by_feed: list[FeedLateness]
    discrepancy_counts_by_feed: dict[str, int | None]  # citizens with a finding resting on the feed
    record_feeds: dict[str, str]


async def data_quality_facts(
    database: Database, principal: Principal, programme_id: str, weeks: int, as_of: date
) -> DataQualityFacts:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database, read_only=True) as uow:
        programmes = ProgrammeRepository(uow.session)
        programme = await programmes.get(programme_id)
        if programme is None:
            raise NotFound(f"No programme {programme_id}.")
        cutoffs = [
            Cutoff(c.complete_through, as_utc(c.recorded_at)) for c in await programmes.cutoffs(programme_id)
        ]
        repo = DataQualityRepository(uow.session)
        records = await repo.records(programme_id)
        milestones = await repo.milestones(programme_id, {kind.value for kind in EXIT_MILESTONES})
        referred_on = await repo.referred_on(programme_id)
    # The end of as_of in Denmark: what was recorded by then.
    known_until = datetime.combine(as_of + timedelta(days=1), time(), DENMARK).astimezone(UTC)
    return DataQualityFacts(
        programme_id,
        {StatusCode(code): StatusCategory(cat) for code, cat in programme.status_categories.items()},
        [c for c in cutoffs if c.recorded_at < known_until],
        records,
        milestones,
        referred_on,
        as_of,
        known_until,
        timedelta(weeks=weeks),
        reads_people(principal),
    )


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def data_quality(facts: DataQualityFacts) -> DataQualityReport:
    """Every participant's timeline resolved once, as known at the end of ``as_of``, against its exit
    milestones; every record's lateness; the cut-off's moves."""
    cutoff = cutoff_as_of(facts.cutoffs, facts.known_until)
    milestones: dict[str, list[Milestone]] = {}
    for pid, milestone_id, kind, on, recorded_at in facts.milestones:
        if as_utc(recorded_at) < facts.known_until:
            milestones.setdefault(pid, []).append(Milestone(milestone_id, MilestoneKind(kind), on))
    found: list[Discrepancy] = []
    late = Lateness()
    by_month: dict[str, Lateness] = {}
    by_feed: dict[str, Lateness] = {}
    feed_citizens: dict[str, set[str]] = {}
    record_feed: dict[str, str] = {}
    citizens_with_records = 0
    seen: set[str] = set()
    for pid, rows in groupby(facts.records, key=itemgetter(0)):
        records = []
        for _, record_id, code, valid_from, valid_to, seq, recorded_at, recorded_by in rows:
            recorded = as_utc(recorded_at)
            if recorded >= facts.known_until:
                continue
            records.append(StatusRecord(record_id, StatusCode(code), valid_from, valid_to, seq, recorded))
            delay = days_late(valid_from, valid_to, recorded.astimezone(DENMARK).date())
            late = late.add(delay)
            month = _month(month_end(period_end(valid_from, valid_to)))
            by_month[month] = by_month.get(month, Lateness()).add(delay)
            feed = record_feed[record_id] = feed_of(recorded_by)
            by_feed[feed] = by_feed.get(feed, Lateness()).add(delay)
            feed_citizens.setdefault(feed, set()).add(pid)
        if not records:
            continue
        citizens_with_records += 1
        seen.add(pid)
        start = min([facts.referred_on.get(pid, records[0].valid_from), *(r.valid_from for r in records)])
        periods = resolve(records, facts.categories, cutoff, start)
        found += discrepancies(pid, periods, milestones.get(pid, []), facts.window, facts.as_of)
    # A participant with exit milestones and no record yet: the timeline is unknown or, under a
    # cut-off, self-supporting; it is resolved the same way.
    for pid in sorted(set(milestones) - seen):
        start = min([facts.referred_on.get(pid, date.max), *(m.on for m in milestones[pid])])
        periods = resolve([], facts.categories, cutoff, start)
        found += discrepancies(pid, periods, milestones[pid], facts.window, facts.as_of)
    found.sort(key=lambda d: (d.participant_id, d.checked_on, d.kind.value))
    citizens = {
        kind.value: len({d.participant_id for d in found if d.kind is kind}) for kind in DiscrepancyKind
    }
    total = len({d.participant_id for d in found})
    found_feeds = {d.record_id: record_feed.get(d.record_id or "", FEED_UNKNOWN) for d in found}
    found_citizens: dict[str, set[str]] = {feed: set() for feed in feed_citizens}
    for d in found:
        found_citizens.setdefault(found_feeds[d.record_id], set()).add(d.participant_id)
    feeds = sorted(feed_citizens)
    lags = cutoff_lags(
        [CutoffMove(c.complete_through, c.recorded_at.astimezone(DENMARK).date()) for c in facts.cutoffs]
    )
    behind = (facts.as_of - cutoff).days if cutoff is not None else None
    weeks = facts.window.days // 7
    if facts.person_level:
        return DataQualityReport(
            facts.programme_id,
            facts.as_of,
            weeks,
            cutoff,
            behind,
            {**citizens, TOTAL: total},
            found,
            late,
            [LateMonth(month, by_month[month]) for month in sorted(by_month)],
            lags,
            True,
            [FeedLateness(feed, by_feed[feed]) for feed in feeds],
            {feed: len(found_citizens[feed]) for feed in sorted(found_citizens)},
            {record_id: feed for record_id, feed in found_feeds.items() if record_id is not None},
        )
    counts = small_counts(citizens) | {TOTAL: None if 0 < total < MIN_CITIZENS else total}
    few = 0 < citizens_with_records < MIN_CITIZENS
    hidden_feeds = suppressed_overlapping(feed_citizens)
    return DataQualityReport(
        facts.programme_id,
        facts.as_of,
        weeks,
        cutoff,
        behind,
        counts,
        None,
        None if few else late,
        [],
        lags,
        False,
        [FeedLateness(feed, None if feed in hidden_feeds else by_feed[feed]) for feed in feeds],
        small_feed_counts({feed: found_citizens[feed] for feed in sorted(found_citizens)}),
        {},
    )
