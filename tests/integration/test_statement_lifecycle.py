"""The statement lifecycle (docs/domain.md "Statement lifecycle"): a draft prepared by the jobcenter is
approved by a finance officer who did not prepare it, naming the sha256 reviewed; approval issues exactly
that document, or nothing when the data changed since; a discarded draft is never issued."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.auth import Role
from libs.common.contracts import StatementApprovedV1, StatementDraftedV1
from services.settlement.domain import content_hash
from services.settlement.services.statements.compute import HASHED_HEADER
from tests.integration.conftest import Trio, auth, outbox_events
from tests.integration.test_settlement import (
    ADMIN,
    JOBCENTER,
    PROGRAMME,
    cutoff,
    enrol,
    status,
    wait_for_fee,
)
from tests.issuing import finance

PREPARE = f"/v1/programmes/{PROGRAMME}/statements"
FINANCE = finance(PROGRAMME)
# A finance officer with the jobcenter's subject: the same person, whatever the role.
SAME_PERSON = auth(Role.finance, PROGRAMME, subject="jobcenter-hedensted")


async def ready(trio: Trio) -> str:
    """One citizen self-supporting from enrolment, data complete through May 2024: the statement of
    2024-07 covers May (3,500.00)."""
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-05-31")
    await wait_for_fee(trio, pid, "2024-05", "3500.00")
    return pid


async def prepare(trio: Trio, period: str = "2024-07", headers: dict[str, str] = JOBCENTER) -> Any:
    response = await trio.settlement.post(PREPARE, json={"period": period}, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def approval(draft: dict[str, Any]) -> str:
    return f"/v1/statements/drafts/{draft['draft_id']}/approval"


async def test_approval_issues_exactly_the_reviewed_draft(trio: Trio) -> None:
    await ready(trio)
    draft = await prepare(trio)
    assert (draft["state"], draft["number"], draft["prepared_by"]) == ("draft", 1, ["jobcenter-hedensted"])
    reviewed = await trio.settlement.get(f"/v1/statements/drafts/{draft['draft_id']}", headers=FINANCE)
    assert reviewed.status_code == 200, reviewed.text
    shown = reviewed.json()
    # What finance reviews hashes to its sha256, as an issued statement's document does.
    assert content_hash({k: shown[k] for k in shown["hashed"]}) == shown["sha256"] == draft["sha256"]
    assert [(line["kind"], line["month"], line["amount_dkk"]) for line in shown["lines"]] == [
        ("fee", "2024-03", "1919.35"), ("fee", "2024-04", "3500.00"), ("fee", "2024-05", "3500.00"),
    ]  # fmt: skip
    csv = await trio.settlement.get(
        f"/v1/statements/drafts/{draft['draft_id']}", headers=FINANCE | {"Accept": "text/csv"}
    )
    assert csv.text.splitlines()[-1] == f"sha256,{draft['sha256']}"

    issued = await trio.settlement.post(approval(draft), json={"sha256": draft["sha256"]}, headers=FINANCE)
    assert issued.status_code == 201, issued.text
    statement = issued.json()
    assert statement["statement_id"] == draft["draft_id"] and statement["number"] == 1
    assert statement["sha256"] == draft["sha256"]
    assert statement["lines"] == shown["lines"] and statement["totals"] == shown["totals"]
    assert content_hash({k: statement[k] for k in statement["hashed"]}) == statement["sha256"]
    assert "issued_at" not in statement["hashed"]
    issued_draft = await trio.settlement.get(f"/v1/statements/drafts/{draft['draft_id']}", headers=FINANCE)
    assert (issued_draft.json()["statement_id"], issued_draft.json()["hashed"]) == (
        draft["draft_id"], statement["hashed"]
    )  # fmt: skip

    # A retry of the approval returns the statement; preparing the period again shows it issued.
    again = await trio.settlement.post(approval(draft), json={"sha256": draft["sha256"]}, headers=FINANCE)
    assert again.status_code == 200 and again.json() == statement
    # Retried naming another sha256, it is refused with the one issued.
    other = await trio.settlement.post(approval(draft), json={"sha256": "0" * 64}, headers=FINANCE)
    assert other.status_code == 409, other.text
    assert (other.json()["statement_id"], other.json()["sha256"]) == (draft["draft_id"], draft["sha256"])
    assert (await prepare(trio))["state"] == "issued"
    listed = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/statement-drafts", headers=FINANCE)
    assert [(d["state"], d["closed_by"], d["statement_id"]) for d in listed.json()["items"]] == [
        ("issued", "finance-approver", draft["draft_id"])
    ]
    events = [e for e in await outbox_events(trio.settlement) if ".statement." in e.type]
    drafted = [StatementDraftedV1.model_validate(e.data) for e in events if ".drafted." in e.type]
    approved = [StatementApprovedV1.model_validate(e.data) for e in events if ".approved." in e.type]
    assert [(d.draft_id, d.sha256, d.created) for d in drafted] == [
        (draft["draft_id"], draft["sha256"], True)
    ]
    assert [(a.statement_id, a.sha256, a.approved_by, a.prepared_by) for a in approved] == [
        (draft["draft_id"], draft["sha256"], "finance-approver", ["jobcenter-hedensted"])
    ]


async def test_the_preparer_cannot_approve_their_own_draft(trio: Trio) -> None:
    await ready(trio)
    draft = await prepare(trio)
    await prepare(trio, headers=auth(Role.admin, subject="ops-1"))  # a second preparer, recomputing it
    for who in (SAME_PERSON, auth(Role.finance, PROGRAMME, subject="ops-1")):
        refused = await trio.settlement.post(approval(draft), json={"sha256": draft["sha256"]}, headers=who)
        assert refused.status_code == 403, refused.text
        assert refused.json()["rule"] == "four-eyes" and "Four eyes" in refused.json()["detail"]
    statements = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/statements", headers=FINANCE)
    assert statements.json()["items"] == []


async def test_an_approval_after_the_data_changed_is_refused_with_the_new_sha256(
    trio: Trio, caplog: pytest.LogCaptureFixture
) -> None:
    pid = await ready(trio)
    draft = await prepare(trio)
    # A correction between review and approval: a sick day in April.
    await status(trio, pid, "sygedagpenge", "2024-04-22", "2024-04-22")
    await wait_for_fee(trio, pid, "2024-04", "0.00")
    caplog.set_level("INFO")
    changed = await trio.settlement.post(approval(draft), json={"sha256": draft["sha256"]}, headers=FINANCE)
    assert changed.status_code == 409, changed.text
    # Refused as soon as the sha256 is known: nothing logged as issued (nor its invoices numbered).
    assert not [r for r in caplog.records if "statement_issued" in r.getMessage()]
    assert changed.json()["detail"] == "The draft changed; review it again."
    current = changed.json()["sha256"]
    assert current != draft["sha256"]
    # Nothing was kept: no statement, no lines or issued events, the draft still open.
    assert (
        await trio.settlement.get(f"/v1/statements/{draft['draft_id']}", headers=FINANCE)
    ).status_code == 404
    types = [e.type for e in await outbox_events(trio.settlement) if ".statement." in e.type]
    assert not [t for t in types if ".issued." in t or ".lines." in t or ".approved." in t]
    reviewed = await trio.settlement.get(f"/v1/statements/drafts/{draft['draft_id']}", headers=FINANCE)
    assert (reviewed.json()["state"], reviewed.json()["sha256"]) == ("draft", current)
    # Reviewed again, it is issued as now shown.
    issued = await trio.settlement.post(approval(draft), json={"sha256": current}, headers=FINANCE)
    assert issued.status_code == 201 and issued.json()["sha256"] == current
    assert issued.json()["lines"] == reviewed.json()["lines"]


async def test_a_discarded_draft_cannot_be_approved(trio: Trio) -> None:
    await ready(trio)
    draft = await prepare(trio)
    url = f"/v1/statements/drafts/{draft['draft_id']}"
    assert (await trio.settlement.delete(url, headers=FINANCE)).status_code == 403
    for _ in range(2):  # discarding again changes nothing
        discarded = await trio.settlement.delete(url, headers=JOBCENTER)
        assert discarded.status_code == 200 and discarded.json()["state"] == "discarded"
    # Read, it names what its sha256 covered (the whole header) and no statement.
    kept = (await trio.settlement.get(url, headers=FINANCE)).json()
    assert (kept["sha256"], kept["statement_id"]) == (draft["sha256"], None)
    assert kept["hashed"] == sorted([*HASHED_HEADER, "totals", "lines"])
    refused = await trio.settlement.post(approval(draft), json={"sha256": draft["sha256"]}, headers=FINANCE)
    assert refused.status_code == 409, refused.text
    # The period gets a new draft, which can be issued; the discarded one cannot be discarded into it.
    fresh = await prepare(trio)
    assert fresh["draft_id"] != draft["draft_id"] and fresh["sha256"] != draft["sha256"]
    issued = await trio.settlement.post(approval(fresh), json={"sha256": fresh["sha256"]}, headers=FINANCE)
    assert issued.status_code == 201
    assert (
        await trio.settlement.delete(f"/v1/statements/drafts/{fresh['draft_id']}", headers=ADMIN)
    ).status_code == 409


async def test_preparing_again_recomputes_the_same_draft_and_roles_keep_to_their_step(trio: Trio) -> None:
    await ready(trio)
    first = await trio.settlement.post(PREPARE, json={"period": "2024-07"}, headers=JOBCENTER)
    again = await trio.settlement.post(PREPARE, json={"period": "2024-07"}, headers=JOBCENTER)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["draft_id"] == first.json()["draft_id"]
    assert again.json()["sha256"] == first.json()["sha256"]
    assert again.json()["prepared_by"] == ["jobcenter-hedensted"]
    # Finance does not prepare; the jobcenter and admin do not approve.
    assert (
        await trio.settlement.post(PREPARE, json={"period": "2024-07"}, headers=FINANCE)
    ).status_code == 403
    body = {"sha256": first.json()["sha256"]}
    for who in (JOBCENTER, ADMIN):
        assert (await trio.settlement.post(approval(first.json()), json=body, headers=who)).status_code == 403
    bad = await trio.settlement.post(approval(first.json()), json={"sha256": "x"}, headers=FINANCE)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sha256"
