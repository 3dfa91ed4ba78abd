"""The read audit at the edge: the recorder a person-level read route calls once its read has
succeeded, and ``GET /v1/audit/reads``, which every service has (the jobcenter for its programmes, the
auditor for its programmes; nobody else)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from libs.common.auth import SERVICE_ROLES, Principal, Role, require_roles
from libs.common.clock import as_utc
from libs.common.dates import WorldDatetime
from libs.common.db import Database
from libs.common.deps import DatabaseDep
from libs.common.errors import ValidationFailed
from libs.common.ids import Uuid
from libs.common.readaudit.store import ReadEntry, append, page
from libs.common.tracing import correlation_id


class ReadRecorder:
    """Appends the read audit's row for this request's route."""

    def __init__(self, database: Database, route: str) -> None:
        self.database = database
        self.route = route

    async def record(
        self, principal: Principal, programme_id: str | None, participant_ids: Iterable[str] = ()
    ) -> None:
        """One row: who read, on which route, in which programme, which participants, in which trace.
        Call it after the read succeeded, before answering. A service identity's read (one service asking
        another, on a person's request that is audited where it was made) leaves none."""
        if principal.role in SERVICE_ROLES:
            return
        entry = ReadEntry(
            sub=principal.subject,
            role=principal.role.value,
            route=self.route,
            programme_id=programme_id,
            participant_ids=tuple(str(p) for p in participant_ids),
            trace_id=correlation_id(),
        )
        await append(self.database, entry)

    async def record_by_programme(
        self, principal: Principal, found: Iterable[tuple[str, str]], programme_id: str | None = None
    ) -> None:
        """A list's reads, ``found`` as (programme id, participant id) pairs: a row per programme naming
        its participants returned; a row for ``programme_id`` (the one the list asked for) when none
        was."""
        groups: dict[str, list[str]] = {}
        for programme, participant in found:
            groups.setdefault(programme, []).append(participant)
        if not groups and programme_id is not None:
            groups[programme_id] = []
        for programme, participants in groups.items():
            await self.record(principal, programme, participants)


async def get_recorder(request: Request) -> ReadRecorder:
    route = request.scope.get("route")
    # The route's template (``/v1/participants/{participant_id}``), never the path with its values.
    template = getattr(route, "path", None) or "unknown"
    return ReadRecorder(request.app.state.database, f"{request.method} {template}")


ReadAuditDep = Annotated[ReadRecorder, Depends(get_recorder)]
AuditReader = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.auditor))]


class ReadAuditEntryOut(BaseModel):
    seq: int
    at: datetime
    sub: str = Field(description="The reader's subject (the token's sub)")
    role: str
    route: str = Field(description="Method and route template, e.g. GET /v1/participants/{participant_id}")
    programme_id: str | None
    participant_ids: list[str | None] = Field(
        description="The participants the read named; null where erased"
    )
    trace_id: str | None = Field(description="The request's W3C trace id")
    prev_hash: str
    hash: str = Field(description="SHA-256 of the row's canonical form, chained to prev_hash")


class ReadAuditPage(BaseModel):
    items: list[ReadAuditEntryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


def read_audit_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["audit"])

    @router.get(
        "/audit/reads",
        response_model=ReadAuditPage,
        summary="The read audit: every read of person-level data here (jobcenter, auditor)",
    )
    async def get_read_audit(
        principal: AuditReader,
        db: DatabaseDep,
        programme_id: str | None = None,
        participant_id: Uuid | None = None,
        start: Annotated[WorldDatetime | None, Query(alias="from")] = None,
        end: Annotated[WorldDatetime | None, Query(alias="to")] = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> ReadAuditPage:
        for name, moment in (("from", start), ("to", end)):
            if moment is not None and moment.tzinfo is None:
                raise ValidationFailed.for_field(name, "must carry a time zone, e.g. 2024-05-01T12:00:00Z")
        # Both roles are scoped to their token's programmes ("*" is not honoured for them).
        if programme_id is not None:
            principal.require_programme(programme_id)
            programmes = [programme_id]
        else:
            programmes = sorted(principal.programmes)
        after: int | None = None
        if cursor is not None:
            if not cursor.isdigit() or len(cursor) > 18:
                raise ValidationFailed.for_field("cursor", "not a cursor this API returned")
            after = int(cursor)
        async with db.read_sessionmaker() as session:
            rows = await page(
                session,
                programme_ids=programmes,
                participant_id=participant_id,
                start=as_utc(start) if start else None,
                end=as_utc(end) if end else None,
                after=after,
                limit=limit + 1,
            )
        return ReadAuditPage(
            items=[ReadAuditEntryOut.model_validate(row, from_attributes=True) for row in rows[:limit]],
            next_cursor=str(rows[limit - 1].seq) if len(rows) > limit else None,
        )

    return router


async def reads_naming(
    database: Database, participant_id: str, limit: int = 10_000
) -> list[dict[str, object]]:
    """The read-audit rows naming one participant, oldest first, as a right-of-access export shows them:
    who read (``sub``, role), when, by which route, in which programme and trace."""
    async with database.read_sessionmaker() as session:
        rows = await page(
            session, programme_ids=None, participant_id=participant_id, start=None, end=None, after=None,
            limit=limit,
        )  # fmt: skip
    return [
        {
            "seq": row.seq,
            "at": row.at.isoformat(),
            "sub": row.sub,
            "role": row.role,
            "route": row.route,
            "programme_id": row.programme_id,
            "trace_id": row.trace_id,
        }
        for row in rows
    ]
