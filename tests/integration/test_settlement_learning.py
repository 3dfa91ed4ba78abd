"""Learning track (municipal spending against 80 % of the Covid-period level) and the provider's
progression summary, with intake, progression and settlement in-process (real database, nats-server)."""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

from libs.common.auth import Role
from libs.common.contracts import INDICATORS, MeasurementRecordedV1
from libs.common.uow import UnitOfWork
from services.settlement.repository import MeasurementRepository
from services.settlement.services.progress import store_measurement
from tests.integration.conftest import SEED, Trio, auth, eventually
from tests.integration.test_settlement import ADMIN, INVESTOR, JOBCENTER, PROGRAMME, PROVIDER, enrol

SPENDING = f"/v1/programmes/{PROGRAMME}/municipal-spending"
TRACK = f"/v1/programmes/{PROGRAMME}/learning-track"
SUMMARY = f"/v1/programmes/{PROGRAMME}/progression-summary"
# Hedensted (seed 001), MDKK -> DKK; 2018 is written 12531 in the source where 125.3 is meant.
SERIES = {
    2015: "98600000.00",
    2016: "112500000.00",
    2017: "119400000.00",
    2019: "131600000.00",
    2020: "143900000.00",
    2021: "152600000.00",
}


async def programme_known_to_settlement(trio: Trio) -> None:
    body = copy.deepcopy(SEED)
    assert (await trio.intake.post("/v1/programmes", json=body, headers=ADMIN)).status_code == 201

    async def known() -> bool:
        response = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/terms", headers=ADMIN)
        return response.status_code == 200

    await eventually(known)


async def test_learning_track_of_the_seed_series_refuses_the_misplaced_2018_figure(trio: Trio) -> None:
    await programme_known_to_settlement(trio)
    for year, amount in SERIES.items():
        response = await trio.settlement.post(
            SPENDING, json={"year": year, "spending_dkk": amount}, headers=JOBCENTER
        )
        assert response.status_code == 201, response.text
        assert response.json()["spending_dkk"] == amount and response.json()["history"] == []

    # 2018 as written in the source: 12,531 read as MDKK, or as DKK.
    for wrong in ("12531000000", "12531"):
        refused = await trio.settlement.post(
            SPENDING, json={"year": 2018, "spending_dkk": wrong}, headers=JOBCENTER
        )
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert problem["errors"][0]["field"] == "spending_dkk"
        assert "median 125.5 MDKK" in problem["detail"] and "decimal separator" in problem["detail"]
    body = {"year": 2018, "spending_dkk": "125300000", "note": "12531 in the source: 125.3 MDKK"}
    accepted = await trio.settlement.post(SPENDING, json=body, headers=JOBCENTER)
    assert accepted.status_code == 201, accepted.text
    stored = accepted.json()
    assert stored["spending_dkk"] == "125300000.00" and stored["recorded_by"] == "jobcenter-hedensted"

    # The same amount again: 200 with the stored row; another amount: 409 naming the year.
    again = await trio.settlement.post(
        SPENDING, json={"year": 2018, "spending_dkk": "125300000.00"}, headers=ADMIN
    )
    assert again.status_code == 200 and again.json() == stored
    other = await trio.settlement.post(
        SPENDING, json={"year": 2018, "spending_dkk": "125400000"}, headers=ADMIN
    )
    assert other.status_code == 409 and other.json()["errors"][0]["field"] == "year"

    # Corrections go through PUT and keep what they replace.
    corrected = await trio.settlement.put(
        f"{SPENDING}/2018", json={"spending_dkk": "125400000.00", "note": "revised"}, headers=ADMIN
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["spending_dkk"] == "125400000.00"
    assert [(h["spending_dkk"], h["note"], h["recorded_by"]) for h in corrected.json()["history"]] == [
        ("125300000.00", "12531 in the source: 125.3 MDKK", "jobcenter-hedensted")
    ]
    back = await trio.settlement.put(
        f"{SPENDING}/2018",
        json={"spending_dkk": "125300000.00", "note": "12531 in the source"},
        headers=JOBCENTER,
    )
    assert [h["spending_dkk"] for h in back.json()["history"]] == ["125300000.00", "125400000.00"]
    implausible = await trio.settlement.put(f"{SPENDING}/2018", json={"spending_dkk": "12531"}, headers=ADMIN)
    assert implausible.status_code == 422 and implausible.json()["errors"][0]["field"] == "spending_dkk"

    # Malformed input names its field; floats are refused (DKK travel as decimal strings).
    for bad, field in (
        ({"year": 2014, "spending_dkk": "100000000"}, "year"),
        ({"year": 2022, "spending_dkk": 125300000.5}, "spending_dkk"),
        ({"year": 2022, "spending_dkk": "1.001"}, "spending_dkk"),
        ({"year": 2022, "spending_dkk": "0"}, "spending_dkk"),
        ({"year": 2022, "spending_dkk": "125300000", "note": "x" * 201}, "note"),
    ):
        response = await trio.settlement.post(SPENDING, json=bad, headers=JOBCENTER)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, (
            bad,
            response.text,
        )
    assert (await trio.settlement.post(SPENDING, json=body, headers=PROVIDER)).status_code == 403
    elsewhere = auth(Role.jobcenter, "another-programme")
    assert (await trio.settlement.post(SPENDING, json=body, headers=elsewhere)).status_code == 404
    assert (
        await trio.settlement.get(TRACK, headers=auth(Role.investor, "another-programme"))
    ).status_code == 404

    # The report, with the KPI computed by hand: Covid level (143.9 + 152.6) / 2 = 148.25 MDKK, target
    # 80 % of it = 118.6 MDKK, latest 2021 152.6 MDKK: ratio 1.0293, 34.0 MDKK above the target.
    report = await trio.settlement.get(TRACK, headers=INVESTOR)
    assert report.status_code == 200, report.text
    track = report.json()
    assert [(y["year"], y["spending_dkk"], y["index"]) for y in track["years"]] == [
        (2015, "98600000.00", "100.0"),
        (2016, "112500000.00", "114.1"),
        (2017, "119400000.00", "121.1"),
        (2018, "125300000.00", "127.1"),
        (2019, "131600000.00", "133.5"),
        (2020, "143900000.00", "145.9"),
        (2021, "152600000.00", "154.8"),
    ]
    assert (track["covid_level_dkk"], track["target_dkk"]) == ("148250000.00", "118600000.00")
    assert track["kpi"] == {
        "latest_year": 2021,
        "latest_spending_dkk": "152600000.00",
        "ratio_to_covid_level": "1.0293",
        "target_met": False,
        "gap_dkk": "34000000.00",
    }

    for headers, url in ((INVESTOR, f"{TRACK}?format=csv"), (PROVIDER | {"Accept": "text/csv"}, TRACK)):
        as_csv = await trio.settlement.get(url, headers=headers)
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert [row["year"] for row in rows] == [str(y) for y in range(2015, 2022)]
        assert rows[-1] == {
            "year": "2021",
            "spending_dkk": "152600000.00",
            "index": "154.8",
            "covid_level_dkk": "148250000.00",
            "target_dkk": "118600000.00",
            "ratio_to_covid_level": "1.0293",
            "at_or_below_target": "false",
        }
    assert (await trio.settlement.get(f"{TRACK}?format=xml", headers=INVESTOR)).status_code == 422

    png = await trio.settlement.get(f"{TRACK}/chart.png", headers=INVESTOR)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = await trio.settlement.get(f"{TRACK}/chart.svg", headers=JOBCENTER)
    assert svg.status_code == 200 and "<svg" in svg.text and svg.headers["content-type"] == "image/svg+xml"

    listed = (await trio.settlement.get(SPENDING, headers=INVESTOR)).json()["items"]
    assert [item["year"] for item in listed] == list(range(2015, 2022))


def scores(value: int, **overrides: int) -> dict[str, int]:
    return dict.fromkeys(INDICATORS, value) | overrides


async def measure(trio: Trio, pid: str, measured_on: str, values: dict[str, int]) -> None:
    async def recorded() -> bool:  # the participant reaches progression by event
        response = await trio.progression.post(
            f"/v1/participants/{pid}/measurements",
            json={"measured_on": measured_on, "scores": values},
            headers=PROVIDER,
        )
        return response.status_code == 201

    await eventually(recorded)


async def test_progression_summary_aggregates_and_suppresses_small_cells(trio: Trio) -> None:
    a, b, c = [await enrol(trio, cpr) for cpr in ("070761-4285", "010180-1234", "020290-2345")]
    # Q1 2024: three participants (a measured twice; the later one counts). Q2: only two.
    await measure(trio, a, "2024-03-05", scores(1))
    await measure(trio, a, "2024-03-20", scores(2, coping=5))
    await measure(trio, b, "2024-03-21", scores(3))
    await measure(trio, c, "2024-03-22", scores(4))
    await measure(trio, a, "2024-05-10", scores(8))
    await measure(trio, b, "2024-06-10", scores(9))

    async def arrived() -> bool:
        response = await trio.settlement.get(f"{SUMMARY}?period=month", headers=JOBCENTER)
        cells = response.json()["cells"] if response.status_code == 200 else []
        return sum(int(cell["participants"]) for cell in cells if cell["group"] == "future") == 5

    await eventually(arrived, timeout=15)

    response = await trio.settlement.get(SUMMARY, headers=INVESTOR)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["period"] == "quarter" and report["min_participants"] == 3
    assert report["baseline_periods"] == {
        "development": "2024-Q1",
        "empowerment": "2024-Q1",
        "future": "2024-Q1",
    }
    by = {(cell["period"], cell["group"]): cell for cell in report["cells"]}
    assert sorted(by) == sorted(
        (p, g) for p in ("2024-Q1", "2024-Q2") for g in ("development", "empowerment", "future")
    )
    development = by[("2024-Q1", "development")]
    assert development["participants"] == 3 and development["suppressed"] is False
    assert development["mean_score"] == "3.25"  # (2 + 2 + 5 + 2 + 3 x 4 + 4 x 4) / 12
    assert development["indicator_means"] == {
        "attendance_stability": "3.00", "personal_resources": "3.00", "coping": "4.00", "motivation": "3.00",
    }  # fmt: skip
    assert development["change_since_first"] == "0.00"
    assert by[("2024-Q1", "future")]["mean_score"] == "3.00"
    for group in ("development", "empowerment", "future"):
        small = by[("2024-Q2", group)]
        assert small["participants"] == 2 and small["suppressed"] is True
        assert small["mean_score"] is None and small["change_since_first"] is None
        assert set(small["indicator_means"].values()) == {None}

    # No participant id anywhere, for the investor: not in the JSON, the CSV or the chart.
    as_csv = await trio.settlement.get(f"{SUMMARY}?format=csv", headers=INVESTOR)
    svg = await trio.settlement.get(f"{SUMMARY}/chart.svg", headers=INVESTOR)
    for text in (response.text, as_csv.text, svg.text):
        assert not any(pid in text for pid in (a, b, c))
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 6
    assert (
        rows[0]["period"] == "2024-Q1" and rows[0]["group"] == "development" and rows[0]["coping"] == "4.00"
    )
    assert rows[0]["goal_focus"] == ""  # an indicator of another group
    assert [(r["suppressed"], r["mean_score"]) for r in rows[3:]] == [("true", "")] * 3
    assert "<svg" in svg.text
    png = await trio.settlement.get(f"{SUMMARY}/chart.png?period=month", headers=PROVIDER)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    # By month: March has three participants, May and June one each (suppressed).
    monthly = (await trio.settlement.get(f"{SUMMARY}?period=month", headers=ADMIN)).json()
    assert [
        (c["period"], c["participants"], c["suppressed"]) for c in monthly["cells"] if c["group"] == "future"
    ] == [
        ("2024-03", 3, False),
        ("2024-05", 1, True),
        ("2024-06", 1, True),
    ]
    assert (await trio.settlement.get(f"{SUMMARY}?period=week", headers=ADMIN)).status_code == 422
    integrator = auth(Role.integrator, PROGRAMME)
    assert (await trio.settlement.get(SUMMARY, headers=integrator)).status_code == 403

    # A third participant measured in Q2 lifts the suppression; the change since Q1 appears.
    await measure(trio, c, "2024-06-15", scores(10))

    async def lifted() -> bool:
        cells = (await trio.settlement.get(SUMMARY, headers=JOBCENTER)).json()["cells"]
        return any(cell["period"] == "2024-Q2" and not cell["suppressed"] for cell in cells)

    await eventually(lifted, timeout=15)
    cells = (await trio.settlement.get(SUMMARY, headers=JOBCENTER)).json()["cells"]
    future = next(cell for cell in cells if cell == cell | {"period": "2024-Q2", "group": "future"})
    assert future["mean_score"] == "9.00" and future["change_since_first"] == "6.00"  # (8+9+10)/3 - 3.00

    # The copy is idempotent by measurement id: the same event applied again changes nothing.
    database = trio.settlement.app.state.database
    event = MeasurementRecordedV1(
        measurement_id="m-1",
        participant_id=a,
        programme_id=PROGRAMME,
        measured_on="2024-06-01",
        scores=scores(5),
        recorded_at="2024-06-01T10:00:00Z",
    )
    results = []
    for _ in range(2):
        async with UnitOfWork(database) as uow:
            results.append(await store_measurement(uow, event))
            await uow.commit()
    assert results == [True, False]
    async with UnitOfWork(database) as uow:
        assert len(await MeasurementRepository(uow.session).of_programme(PROGRAMME)) == 8  # 7 posted + m-1


async def test_data_shapes_are_aggregates_only(trio: Trio) -> None:
    await programme_known_to_settlement(trio)
    empty: dict[str, Any] = (await trio.settlement.get(SUMMARY, headers=INVESTOR)).json()
    assert empty["cells"] == [] and set(empty["baseline_periods"].values()) == {None}
    track = (await trio.settlement.get(TRACK, headers=INVESTOR)).json()
    assert track["years"] == [] and track["kpi"] is None and track["covid_level_dkk"] is None
    assert (await trio.settlement.get(f"{TRACK}/chart.png", headers=INVESTOR)).content.startswith(b"\x89PNG")
    assert (await trio.settlement.get(f"{SUMMARY}/chart.svg", headers=INVESTOR)).status_code == 200
