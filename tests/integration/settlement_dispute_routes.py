"""Settlement's dispute routes for the role x route matrix in test_settlement.py, with the disputes and
bodies the allowed roles use, made by ``prepare`` before the matrix runs.

Each allowed role's call must succeed, so the disputes are set up for it: the provider and the investor
each hold an open dispute (a line, a cell) that their opening call repeats (a retry: 200) and their
withdrawal ends; the jobcenter's resolution repeats one already upheld (a retry: 200)."""

from __future__ import annotations

from typing import Any

import httpx

from libs.common.auth import Role

J, P, INV, F, A = Role.jobcenter, Role.provider, Role.investor, Role.finance, Role.admin
AU = Role.auditor
OPEN = "/v1/statements/{statement_id}/disputes"
_ids: dict[str, str] = {}  # the prepared disputes: "resolved", "provider", "investor"


class _WithDispute(str):
    """A route template with a {dispute_id} placeholder, filled with the dispute prepared for the role
    the matrix formats it for (``role=``); it equals (and hashes as) the plain template."""

    __slots__ = ()

    def format(self, *args: object, **kwargs: Any) -> str:
        openers: dict[object, str] = {P: "provider", INV: "investor"}
        key = ("withdrawal" in self and openers.get(kwargs.get("role"))) or "resolved"
        return str.format(self, *args, **({"dispute_id": _ids.get(key, "")} | kwargs))


ONE = _WithDispute("/v1/disputes/{dispute_id}")
RESOLUTION = _WithDispute("/v1/disputes/{dispute_id}/resolution")
WITHDRAWAL = _WithDispute("/v1/disputes/{dispute_id}/withdrawal")
DISPUTE_ROUTES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", OPEN): frozenset({P, INV}),
    ("GET", ONE): frozenset({J, P, INV, F, A, AU}),
    ("POST", RESOLUTION): frozenset({J}),
    ("POST", WITHDRAWAL): frozenset({P, INV}),
    ("GET", "/v1/programmes/{programme_id}/disputes"): frozenset({J, P, INV, F, A, AU}),
}
_REASON = {"reason_code": "status_wrong", "text": "The June status is wrong."}


def _open_body(role: Role) -> dict[str, Any]:
    """The provider disputes line 1; the investor the cell of the statement's last month's fees."""
    if role is INV:
        return _REASON | {"month": _ids["investor_month"], "kind": "fee"}
    return _REASON | {"line_no": 1}


DISPUTE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", OPEN): _open_body,
    ("POST", RESOLUTION): {"outcome": "upheld"},
}


async def prepare(
    settlement: httpx.AsyncClient, statement: dict[str, Any], headers: dict[Role, dict[str, str]]
) -> None:
    """Open the matrix's disputes on ``statement`` (two fee lines or more): one upheld, then one open
    per opener."""
    url = OPEN.format(statement_id=statement["statement_id"])
    _ids["investor_month"] = statement["lines"][-1]["month"]
    first = await settlement.post(url, json=_open_body(P), headers=headers[P])
    assert first.status_code == 201, first.text
    _ids["resolved"] = first.json()["dispute_id"]
    upheld = await settlement.post(RESOLUTION.format(), json={"outcome": "upheld"}, headers=headers[J])
    assert upheld.status_code == 200, upheld.text
    for role, key in ((P, "provider"), (INV, "investor")):
        opened = await settlement.post(url, json=_open_body(role), headers=headers[role])
        assert opened.status_code == 201, opened.text
        _ids[key] = opened.json()["dispute_id"]
