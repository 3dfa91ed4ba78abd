"""The outcome and economics reports written out for their reader: the JSON documents, their CSV rows and
their charts, from the use cases' views."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.common.reports import Chart
from services.settlement.domain.economics import METHOD as ECONOMICS_METHOD
from services.settlement.domain.economics import Assumptions, Economics
from services.settlement.domain.outcomes import METHOD as OUTCOMES_METHOD
from services.settlement.domain.outcomes import CitizenOutcome, OutcomeReport, TrackOutcome
from services.settlement.services.economics import AssumptionsInUse
from services.settlement.services.outcomes import WindowShares

# --- outcomes ---------------------------------------------------------------------------------------

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


def track_document(track: TrackOutcome) -> dict[str, Any]:
    return {
        "track": track.track,
        "participants": track.participants,
        "windows_complete": track.windows_complete,
        "mean_weeks_complete_windows": track.mean_weeks_complete_windows,
        "mean_weeks_projected": track.mean_weeks_projected,
        "control_baseline_weeks": track.control_baseline_weeks,
        "mean_weeks_complete_windows_suppressed": track.mean_weeks_complete_windows_suppressed,
        "mean_weeks_projected_suppressed": track.mean_weeks_projected_suppressed,
    }


def citizen_document(row: CitizenOutcome) -> dict[str, Any]:
    return {
        "participant_id": row.participant_id,
        "track": row.track,
        "enrolled_on": row.enrolled_on,
        "withdrawn_on": row.withdrawn_on,
        "weeks_observed": row.weeks_observed,
        "self_supporting_weeks": row.self_supporting_weeks,
        "window_complete": row.window_complete,
        "projected_self_supporting_weeks": row.projected_self_supporting_weeks,
    }


def outcomes_document(report: OutcomeReport) -> dict[str, Any]:
    """The JSON of the outcome report; ``items`` (per citizen) only for a reader who may see people."""
    interval = report.effect_ci95
    document: dict[str, Any] = {
        "programme_id": report.programme_id,
        "data_complete_through": report.data_complete_through,
        "computed_at": report.computed_at,
        "method": OUTCOMES_METHOD,
        "participants": report.participants,
        "windows_complete": report.windows_complete,
        "windows_open": report.windows_open,
        "is_projection": report.is_projection,
        "tracks": [track_document(track) for track in report.tracks],
        "mean_weeks": report.mean_weeks,
        "control_baseline_weeks": report.control_baseline_weeks,
        "effect_weeks": report.effect_weeks,
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
        "target_uplift_weeks": report.target_uplift_weeks,
        "target_met": report.target_met,
        "target_met_at_95": report.target_met_at_95,
        "suppressed": report.suppressed,
    }
    if report.items is not None:
        document["items"] = [citizen_document(row) for row in report.items]
    return document


def outcomes_chart(view: WindowShares) -> Chart:
    return Chart(
        title=f"{view.programme_id}: share of the cohort self-supporting, by month of the 2-year window",
        x_labels=[str(m + 1) for m in range(len(view.shares))],
        series={"cohort (observed weeks)": list(view.shares)},
        reference_lines={"control baseline": view.control_baseline},
        y_label="self-supporting weeks / observed weeks",
        x_label="month since enrolment",
        y_percent=True,
    )


# --- economics --------------------------------------------------------------------------------------


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


def assumptions_in_use(view: AssumptionsInUse) -> dict[str, Any]:
    return assumptions_document(view.assumptions, view.source)


def economics_document(result: Economics) -> dict[str, Any]:
    fees, investor, provider, municipality = (
        result.fees,
        result.investor,
        result.provider,
        result.municipality,
    )
    return {
        "programme_id": result.programme_id,
        "data_complete_through": result.data_complete_through,
        "computed_at": result.computed_at,
        "is_projection": result.is_projection,
        "windows_open": result.windows_open,
        "fees": {
            "invoiced_to_date_dkk": fees.invoiced_to_date_dkk,
            "earned_not_yet_invoiced_dkk": fees.earned_not_yet_invoiced_dkk,
            "projected_further_dkk": fees.projected_further_dkk,
            "projected_total_dkk": fees.projected_total_dkk,
            "total_cap_dkk": fees.total_cap_dkk,
            "statements": fees.statements,
        },
        "investor": {
            "investment_dkk": investor.investment_dkk,
            "received_to_date_dkk": investor.received_to_date_dkk,
            "projected_total_received_dkk": investor.projected_total_received_dkk,
            "net_result_dkk": investor.net_result_dkk,
            "irr_annual": investor.irr_annual,
            "paid_to_date_dkk": investor.paid_to_date_dkk,
            "realised_irr_annual": investor.realised_irr_annual,
            "cash_flows": [
                {"month": str(f.month), "amount_dkk": f.amount, "kind": f.kind} for f in investor.cash_flows
            ],
        },
        "provider": {
            "share_percent": provider.share_percent,
            "received_to_date_dkk": provider.received_to_date_dkk,
            "projected_total_received_dkk": provider.projected_total_received_dkk,
        },
        "municipality": {
            "avoided_public_support_weeks": municipality.avoided_public_support_weeks,
            "estimated_savings_dkk": municipality.estimated_savings_dkk,
            "fees_dkk": municipality.fees_dkk,
            "net_gain_dkk": municipality.net_gain_dkk,
            "assumptions": assumptions_document(municipality.assumptions, municipality.assumptions_source),
        },
        "method": ECONOMICS_METHOD,
    }


ECONOMICS_COLUMNS = ["section", "item", "value"]


def economics_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The CSV of ``economics_document``: one row per headline figure, and one per cash flow of the
    investor."""
    rows: list[dict[str, Any]] = []
    for section in ("fees", "investor", "provider", "municipality"):
        for name, value in document[section].items():
            if isinstance(value, list | dict):
                continue
            rows.append({"section": section, "item": name, "value": value})
    for flow in document["investor"]["cash_flows"]:
        rows.append(
            {
                "section": "investor_cash_flow",
                "item": f"{flow['month']} {flow['kind']}",
                "value": flow["amount_dkk"],
            }
        )
    return rows


def economics_chart(result: Economics) -> Chart:
    months = sorted({m.month for m in result.fee_months})
    invoiced = {m.month: m.cumulative_dkk for m in result.fee_months if m.kind == "invoiced"}
    projected = {m.month: m.cumulative_dkk for m in result.fee_months if m.kind == "projected"}
    return Chart(
        title=f"{result.programme_id}: cumulative fees against the cap",
        x_labels=[str(m) for m in months],
        series={
            "invoiced (statements)": [invoiced.get(m) for m in months],
            "projected": [projected.get(m) for m in months],
        },
        reference_lines={"total cap": result.fees.total_cap_dkk},
        y_label="DKK",
    )
