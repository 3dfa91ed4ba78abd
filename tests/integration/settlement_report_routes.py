"""Settlement's report routes for the role x route matrix in test_settlement.py (every route must be
listed), with the request bodies the allowed roles send."""

from __future__ import annotations

from typing import Any

from libs.common.auth import Role

J, P, INV, G, A = Role.jobcenter, Role.provider, Role.investor, Role.integrator, Role.admin
READERS = frozenset({J, P, INV, A, Role.auditor})

# Outcomes and economics (issue 7).
OUTCOME_ROUTES: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/v1/programmes/{programme_id}/outcomes"): READERS,
    ("GET", "/v1/programmes/{programme_id}/outcomes/chart.png"): READERS,
    ("GET", "/v1/programmes/{programme_id}/outcomes/chart.svg"): READERS,
    ("GET", "/v1/programmes/{programme_id}/economics"): READERS,
    ("GET", "/v1/programmes/{programme_id}/economics/chart.png"): READERS,
    ("GET", "/v1/programmes/{programme_id}/economics/chart.svg"): READERS,
    ("GET", "/v1/programmes/{programme_id}/economic-assumptions"): READERS,
    ("PUT", "/v1/programmes/{programme_id}/economic-assumptions"): frozenset({A}),
}
OUTCOME_BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/v1/programmes/{programme_id}/economic-assumptions"): {
        "weekly_rates": {"sygedagpenge": {"2024": "4695"}, "jobafklaring": {"2024": "3780.46"}},
        "refund_staircase": [
            {"from_week": 1, "refund_percent": "80"},
            {"from_week": 5, "refund_percent": "40"},
            {"from_week": 27, "refund_percent": "30"},
            {"from_week": 53, "refund_percent": "20"},
        ],
    }
}

# Learning track and the provider's progression summary (issue 7).


class _WithYear(str):
    """A route template with a {year} placeholder: the matrix formats templates with programme_id,
    participant_id, statement_id and month only, so this one fills in the year itself. It equals (and
    hashes as) the plain template, as OpenAPI lists it."""

    __slots__ = ()

    def format(self, *args: object, **kwargs: object) -> str:
        return str.format(self, *args, **({"year": 2016} | kwargs))


SPENDING = "/v1/programmes/{programme_id}/municipal-spending"
SPENDING_YEAR = _WithYear(SPENDING + "/{year}")
LEARNING = "/v1/programmes/{programme_id}/learning-track"
PROGRESSION = "/v1/programmes/{programme_id}/progression-summary"
LEARNING_ROUTES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", SPENDING): frozenset({J, A}),
    ("PUT", SPENDING_YEAR): frozenset({J, A}),
    ("GET", SPENDING): READERS,
    ("GET", LEARNING): READERS,
    ("GET", LEARNING + "/chart.png"): READERS,
    ("GET", LEARNING + "/chart.svg"): READERS,
    ("GET", PROGRESSION): READERS,
    ("GET", PROGRESSION + "/chart.png"): READERS,
    ("GET", PROGRESSION + "/chart.svg"): READERS,
}
LEARNING_BODIES: dict[tuple[str, str], Any] = {
    ("POST", SPENDING): {"year": 2015, "spending_dkk": "98600000.00", "note": "matrix"},
    ("PUT", SPENDING_YEAR): {"spending_dkk": "112500000.00"},
}

# Corrections of invoiced months (issue 27, the data-quality monitor).
CORRECTION_ROUTES: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/v1/programmes/{programme_id}/corrections"): READERS,
}

REPORT_ROUTES = OUTCOME_ROUTES | LEARNING_ROUTES | CORRECTION_ROUTES
REPORT_BODIES = OUTCOME_BODIES | LEARNING_BODIES
