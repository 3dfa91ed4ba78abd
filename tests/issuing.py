"""Issuing a statement as the platform does it: a draft prepared (jobcenter or admin), then approved by a
finance officer with another ``sub`` (four eyes), naming the draft's sha256. One helper for the
in-process clients (``issue``) and one for real processes over httpx (``issue_sync``); each returns the
approval's response (201: issued now; 200: issued already), or the draft's when that failed."""

from __future__ import annotations

from typing import Any

import httpx

from libs.common.auth import Principal, Role
from libs.common.db import Database
from libs.common.devtoken import dev_token
from services.settlement.domain import Month
from services.settlement.services import statements

APPROVER_SUBJECT = "finance-approver"


def finance(programme_id: str, subject: str = APPROVER_SUBJECT) -> dict[str, str]:
    """A finance officer's headers for the programme (finance never holds every programme)."""
    return {"Authorization": f"Bearer {dev_token(Role.finance, (programme_id,), subject)}"}


def _approval(draft: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return f"/v1/statements/drafts/{draft['draft_id']}/approval", {"sha256": draft["sha256"]}


async def issue(
    client: httpx.AsyncClient,
    programme_id: str,
    period: str,
    preparer: dict[str, str],
    approver: dict[str, str] | None = None,
    accept: str | None = None,
) -> httpx.Response:
    """Prepare the period's draft with ``preparer``'s headers and approve it as reviewed with
    ``approver``'s (a finance officer of the programme by default)."""
    drafted = await client.post(
        f"/v1/programmes/{programme_id}/statements", json={"period": period}, headers=preparer
    )
    if drafted.is_error:
        return drafted
    url, body = _approval(drafted.json())
    headers = (approver or finance(programme_id)) | ({"Accept": accept} if accept else {})
    return await client.post(url, json=body, headers=headers)


def issue_sync(
    base_url: str,
    programme_id: str,
    period: str,
    preparer: dict[str, str],
    approver: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> httpx.Response:
    """``issue`` against a running settlement at ``base_url``."""
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        drafted = client.post(
            f"/v1/programmes/{programme_id}/statements", json={"period": period}, headers=preparer
        )
        if drafted.is_error:
            return drafted
        url, body = _approval(drafted.json())
        return client.post(url, json=body, headers=approver or finance(programme_id))


async def issue_direct(
    database: Database, preparer: Principal, programme_id: str, period: str, approver: Principal | None = None
) -> statements.Approved:
    """``issue`` through the use cases themselves (no HTTP): prepared by ``preparer``, approved as
    computed by a finance officer of the programme."""
    draft = await statements.prepare_draft(database, preparer, programme_id, Month.parse(period))
    finance_officer = approver or Principal(APPROVER_SUBJECT, Role.finance, frozenset({programme_id}))
    return await statements.approve_draft(database, finance_officer, draft.draft_id, draft.sha256)
