"""The learning track and the progression summary written out for their reader: the response schemas,
their CSV rows and their charts, from the use cases' views."""

from __future__ import annotations

from dataclasses import asdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from libs.common.contracts.progression import INDICATOR_GROUPS, INDICATORS
from libs.common.reports import Chart
from services.settlement.domain.learning import COVID_YEARS, MILLION, RATIO_PLACES, TARGET_SHARE, covid_level
from services.settlement.schemas import (
    LearningKpiOut,
    LearningTrackOut,
    LearningYearOut,
    MunicipalSpendingOut,
    ProgressionCellOut,
    ProgressionSummaryOut,
    SpendingHistoryEntry,
)
from services.settlement.services.learning import LearningReport, SpendingView
from services.settlement.services.progress import ProgressionSummary

# --- learning track -------------------------------------------------------------------------------


def spending_out(view: SpendingView) -> MunicipalSpendingOut:
    return MunicipalSpendingOut(
        programme_id=view.programme_id,
        year=view.year,
        spending_dkk=view.spending_dkk,
        note=view.note,
        recorded_at=view.recorded_at,
        recorded_by=view.recorded_by,
        history=[SpendingHistoryEntry(**asdict(change)) for change in view.history],
    )


def track_out(report: LearningReport) -> LearningTrackOut:
    track = report.track
    return LearningTrackOut(
        programme_id=report.programme_id,
        years=[LearningYearOut(year=p.year, spending_dkk=p.spending_dkk, index=p.index) for p in track.years],
        covid_level_dkk=track.covid_level_dkk,
        target_share=TARGET_SHARE,
        target_dkk=track.target_dkk,
        kpi=None
        if track.kpi is None
        else LearningKpiOut(
            latest_year=track.kpi.latest_year,
            latest_spending_dkk=track.kpi.latest_spending_dkk,
            ratio_to_covid_level=track.kpi.ratio_to_covid_level,
            target_met=track.kpi.target_met,
            gap_dkk=track.kpi.gap_dkk,
        ),
    )


LEARNING_COLUMNS = (
    "year",
    "spending_dkk",
    "index",
    "covid_level_dkk",
    "target_dkk",
    "ratio_to_covid_level",
    "at_or_below_target",
)


def learning_rows(report: LearningReport) -> list[dict[str, Any]]:
    """One row per year; the ratio and the target check of every year against the Covid level."""
    track = report.track
    level = covid_level({p.year: p.spending_dkk for p in track.years})
    rows = []
    for point in track.years:
        rows.append(
            {
                "year": point.year,
                "spending_dkk": point.spending_dkk,
                "index": point.index,
                "covid_level_dkk": track.covid_level_dkk,
                "target_dkk": track.target_dkk,
                "ratio_to_covid_level": None
                if level is None
                else (point.spending_dkk / level).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP),
                "at_or_below_target": None
                if level is None
                else str(point.spending_dkk <= level * TARGET_SHARE).lower(),
            }
        )
    return rows


def learning_chart(report: LearningReport) -> Chart:
    """Bars per year (MDKK), dashed lines at the Covid-period level and at its 80 % target."""
    track = report.track
    references: dict[str, float | Decimal] = {}
    if track.covid_level_dkk is not None and track.target_dkk is not None:
        references[f"Covid-period level (mean {COVID_YEARS[0]}-{COVID_YEARS[1]})"] = (
            track.covid_level_dkk / MILLION
        )
        references[f"Target: {int(TARGET_SHARE * 100)} % of the Covid level"] = track.target_dkk / MILLION
    return Chart(
        title=f"{report.programme_id}: spending on sickness benefit and job clarification",
        x_labels=[str(p.year) for p in track.years],
        bars={"Spending (MDKK)": [p.spending_dkk / MILLION for p in track.years]},
        reference_lines=references,
        y_label="MDKK",
        x_label="year",
    )


# --- the provider's progression summary ------------------------------------------------------------


def summary_out(summary: ProgressionSummary) -> ProgressionSummaryOut:
    return ProgressionSummaryOut(
        programme_id=summary.programme_id,
        period=summary.period,
        min_participants=summary.min_participants,
        baseline_periods=summary.baseline_periods,
        cells=[
            ProgressionCellOut(
                period=c.period,
                group=c.group,
                participants=c.participants,
                suppressed=c.suppressed,
                mean_score=c.mean_score,
                indicator_means=c.indicator_means,
                change_since_first=c.change_since_first,
            )
            for c in summary.cells
        ],
    )


SUMMARY_COLUMNS = (
    "period",
    "group",
    "participants",
    "suppressed",
    "mean_score",
    "change_since_first",
    *INDICATORS,
)


def summary_rows(summary: ProgressionSummary) -> list[dict[str, Any]]:
    """One row per period and group; the indicator columns of the other groups stay empty."""
    return [
        {
            "period": c.period,
            "group": c.group,
            "participants": c.participants,
            "suppressed": str(c.suppressed).lower(),
            "mean_score": c.mean_score,
            "change_since_first": c.change_since_first,
        }
        | c.indicator_means
        for c in summary.cells
    ]


def summary_chart(summary: ProgressionSummary) -> Chart:
    """One line per group over the periods (suppressed cells leave a gap), y = mean score 1-10."""
    periods = sorted({c.period for c in summary.cells})
    by_key = {(c.period, c.group): c.mean_score for c in summary.cells}
    return Chart(
        title=f"{summary.programme_id}: progression measurements, mean score per group",
        x_labels=periods,
        series={group: [by_key.get((p, group)) for p in periods] for group in INDICATOR_GROUPS},
        y_label="mean score (1-10)",
        x_label=summary.period,
    )
