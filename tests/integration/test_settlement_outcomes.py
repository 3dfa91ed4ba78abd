"""Outcomes and economics through the API (all three services in-process; SQLite and PostgreSQL):
figures worked out by hand, JSON/CSV/PNG/SVG, investors seeing aggregates only, assumptions."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from libs.common.auth import Role
from tests.integration.conftest import Trio, auth, eventually
from tests.integration.test_settlement import (
    ADMIN,
    INVESTOR,
    JOBCENTER,
    PROGRAMME,
    PROVIDER,
    cutoff,
    enrol,
    months,
    status,
    wait_for_fee,
)
from tests.issuing import issue

OUTCOMES = f"/v1/programmes/{PROGRAMME}/outcomes"
ECONOMICS = f"/v1/programmes/{PROGRAMME}/economics"


async def cohort(trio: Trio) -> tuple[str, str]:
    """A: sygedagpenge to 30 April 2024, then employed; B: never self-supporting. Cut-off 31 July 2024.

    From the enrolment on 15 March 2024, 19 whole weeks end by 31 July (19 x 7 = 133 <= 139 days).
    A: week 7 (from 3 May) is the first without a benefit day: 12 self-supporting weeks of 19; the last
    13 observed weeks hold 12 self-supporting ones, so 85 open weeks project to 12 + 85 x 12/13 = 90.46.
    B: 0 of 19, and the projection 0.
    """
    a = await enrol(trio, "070761-4285")
    b = await enrol(trio, "010190-1234")
    await status(trio, a, "sygedagpenge", "2024-03-15", "2024-04-30")
    await status(trio, a, "employed", "2024-05-01")
    await status(trio, b, "kontanthjaelp", "2024-03-15")
    await cutoff(trio, "2024-07-31")
    await wait_for_fee(trio, a, "2024-07", "3500.00")
    await wait_for_fee(trio, b, "2024-07", "0.00")

    # Open-ended records decide July without a cut-off: wait for the cut-off itself to be stored.
    async def cut_off() -> bool:
        response = await trio.settlement.get(
            f"/v1/participants/{a}/months/2024-07/explanation", headers=JOBCENTER
        )
        return response.status_code == 200 and response.json()["cutoff_used"] == "2024-07-31"

    await eventually(cut_off, timeout=15)
    return a, b


async def test_outcomes_count_weeks_project_open_windows_and_hide_people_from_investors(trio: Trio) -> None:
    a, b = await cohort(trio)
    response = await trio.settlement.get(OUTCOMES, headers=PROVIDER)
    assert response.status_code == 200, response.text
    report = response.json()
    rows = {row["participant_id"]: row for row in report["items"]}
    assert (rows[a]["weeks_observed"], rows[a]["self_supporting_weeks"]) == (19, 12)
    assert rows[a]["projected_self_supporting_weeks"] == "90.46"
    assert (rows[b]["self_supporting_weeks"], rows[b]["projected_self_supporting_weeks"]) == (0, "0.00")
    assert report["windows_complete"] == 0 and report["windows_open"] == 2 and report["is_projection"]
    assert report["mean_weeks"] == "45.23"  # (90.46 + 0) / 2
    assert report["control_baseline_weeks"] == "52.00"  # both on the sygedagpenge track
    assert report["effect_weeks"] == "-6.77"
    ci = report["effect_ci95"]
    assert Decimal(ci["low"]) <= Decimal("-6.77") <= Decimal(ci["high"]) and ci["seed"] == 2022
    assert report["target_uplift_weeks"] == "15" and report["target_met"] is False
    (track,) = [t for t in report["tracks"] if t["track"] == "sygedagpenge"]
    assert (track["participants"], track["mean_weeks_projected"]) == (2, "45.23")
    # Reproducible: the same seed gives the same interval; another seed may not.
    again = (await trio.settlement.get(OUTCOMES, headers=PROVIDER)).json()
    assert again["effect_ci95"] == ci

    # Intention to treat: B withdraws; the fee window ends, but B stays in the cohort and every
    # observed week still counts.
    withdrawn = await trio.intake.post(
        f"/v1/participants/{b}/withdrawal",
        json={"effective_on": "2024-05-01", "reason": "moved_away"},
        headers=JOBCENTER,
    )
    assert withdrawn.status_code == 200, withdrawn.text

    async def window_shortened() -> bool:
        return "2024-07" not in await months(trio, b)

    await eventually(window_shortened)
    after = (await trio.settlement.get(OUTCOMES, headers=PROVIDER)).json()
    rows = {row["participant_id"]: row for row in after["items"]}
    assert after["participants"] == 2 and rows[b]["withdrawn_on"] == "2024-05-01"
    assert (rows[b]["weeks_observed"], rows[b]["self_supporting_weeks"]) == (19, 0)
    assert after["effect_weeks"] == "-6.77"

    investor = await trio.settlement.get(OUTCOMES, headers=INVESTOR)
    assert investor.status_code == 200 and "items" not in investor.json()
    assert a not in investor.text and b not in investor.text
    # Two citizens: the investor's figures are under the small-cell rule (test_settlement_investor.py).
    assert investor.json()["suppressed"] and investor.json()["effect_weeks"] is None

    as_csv = await trio.settlement.get(OUTCOMES, params={"format": "csv"}, headers=JOBCENTER)
    assert as_csv.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {r["participant_id"]: r["self_supporting_weeks"] for r in parsed} == {a: "12", b: "0"}
    investor_csv = await trio.settlement.get(OUTCOMES, headers=INVESTOR | {"Accept": "text/csv"})
    assert investor_csv.text.startswith("track,") and a not in investor_csv.text
    bad = await trio.settlement.get(OUTCOMES, params={"format": "xml"}, headers=PROVIDER)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "format"

    png = await trio.settlement.get(f"{OUTCOMES}/chart.png", headers=INVESTOR)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = await trio.settlement.get(f"{OUTCOMES}/chart.svg", headers=PROVIDER)
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    assert (await trio.settlement.get(OUTCOMES, headers=auth(Role.integrator))).status_code == 403
    other = auth(Role.provider, "another-programme")
    assert (await trio.settlement.get(OUTCOMES, headers=other)).status_code == 404


async def test_economics_follow_the_statements_and_the_assumptions(trio: Trio) -> None:
    a, _ = await cohort(trio)
    issued = await issue(trio.settlement, PROGRAMME, "2024-09", ADMIN)
    assert issued.status_code == 201
    totals = issued.json()["totals"]
    assert totals["cumulative_invoiced"] == "10500.00"  # A's May, June, July

    response = await trio.settlement.get(ECONOMICS, headers=INVESTOR)
    assert response.status_code == 200, response.text
    report = response.json()
    assert a not in response.text
    assert report["fees"]["invoiced_to_date_dkk"] == "10500.00"
    assert report["fees"]["statements"] == 1
    projected_total = Decimal(report["fees"]["projected_total_dkk"])
    assert Decimal("10500.00") < projected_total <= Decimal("5600000.00")
    investor = report["investor"]
    assert investor["cash_flows"][0] == {
        "month": "2024-03",
        "amount_dkk": "-4400000.00",
        "kind": "investment",
    }
    assert investor["cash_flows"][1] == {"month": "2024-09", "amount_dkk": "6300.00", "kind": "payment"}
    received = sum(Decimal(f["amount_dkk"]) for f in investor["cash_flows"][1:])
    assert received == Decimal(investor["projected_total_received_dkk"])
    assert Decimal(investor["net_result_dkk"]) == received - Decimal("4400000.00")
    assert investor["irr_annual"] is not None and Decimal(investor["irr_annual"]) < 0  # two citizens
    assert Decimal(report["provider"]["projected_total_received_dkk"]) + received == projected_total
    municipality = report["municipality"]
    assert municipality["assumptions"]["source"] == "default"
    savings = Decimal(municipality["estimated_savings_dkk"])
    assert Decimal(municipality["net_gain_dkk"]) == savings - projected_total

    # Doubling every rate doubles the savings (the staircase unchanged).
    defaults = (
        await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/economic-assumptions", headers=PROVIDER)
    ).json()
    doubled = {
        "weekly_rates": {
            track: {year: str(Decimal(rate) * 2) for year, rate in rates.items()}
            for track, rates in defaults["weekly_rates"].items()
        },
        "refund_staircase": defaults["refund_staircase"],
    }
    put = await trio.settlement.put(
        f"/v1/programmes/{PROGRAMME}/economic-assumptions", json=doubled, headers=ADMIN
    )
    assert put.status_code == 200, put.text
    after = (await trio.settlement.get(ECONOMICS, headers=PROVIDER)).json()["municipality"]
    assert after["assumptions"]["source"] == "programme"
    assert Decimal(after["estimated_savings_dkk"]) == savings * 2

    unknown_track = doubled | {"weekly_rates": doubled["weekly_rates"] | {"lotto": {"2024": "1"}}}
    refused = await trio.settlement.put(
        f"/v1/programmes/{PROGRAMME}/economic-assumptions", json=unknown_track, headers=ADMIN
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "weekly_rates.lotto"
    descending = doubled | {"refund_staircase": [{"from_week": 5, "refund_percent": "40"}]}
    refused = await trio.settlement.put(
        f"/v1/programmes/{PROGRAMME}/economic-assumptions", json=descending, headers=ADMIN
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "refund_staircase"
    assert (
        await trio.settlement.put(
            f"/v1/programmes/{PROGRAMME}/economic-assumptions", json=doubled, headers=PROVIDER
        )
    ).status_code == 403

    as_csv = await trio.settlement.get(ECONOMICS, params={"format": "csv"}, headers=INVESTOR)
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {"section": "fees", "item": "invoiced_to_date_dkk", "value": "10500.00"} in rows
    assert any(r["section"] == "investor_cash_flow" and r["value"] == "-4400000.00" for r in rows)
    png = await trio.settlement.get(f"{ECONOMICS}/chart.png", headers=INVESTOR)
    assert png.content.startswith(b"\x89PNG")
    svg = await trio.settlement.get(f"{ECONOMICS}/chart.svg", headers=INVESTOR)
    assert b"<svg" in svg.content and b"total cap" in svg.content
