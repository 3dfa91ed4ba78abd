"""Operator routes every service has: its dead letters, listed and re-driven (admin only)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from libs.common.auth import Principal, Role, require_roles
from libs.common.deadletters import list_dead_letters, redrive
from libs.common.errors import ServiceUnavailable
from libs.common.logging import get_logger

log = get_logger(__name__)

Admin = Annotated[Principal, Depends(require_roles(Role.admin))]


class DeadLetterOut(BaseModel):
    id: int = Field(description="Sequence in the dead-letter stream; pass it to re-drive one letter")
    consumer: str
    subject: str = Field(description="Subject the event was published on")
    stream_seq: int = Field(description="Sequence of the event in the event stream")
    deliveries: int
    event_type: str
    event_id: str | None
    error: str = Field(description="Why the last delivery failed")
    failed_at: str
    event: dict[str, Any] | None = Field(description="The CloudEvent as it was delivered")


class DeadLetterList(BaseModel):
    items: list[DeadLetterOut]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null on the last page")


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] | None = Field(default=None, description="Only these letters; all of them when omitted")
    consumer: str | None = Field(default=None, description="Only this consumer's letters")


class RedriveOut(BaseModel):
    applied: int
    duplicate: int
    failed: int
    refused: int = Field(description="Letters this service's consumers did not write: never applied, kept")
    results: list[dict[str, Any]]


async def _runtime(request: Request) -> Any:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None and not runtime.nats.is_connected:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.nats.ready.wait(), timeout=3)
    if runtime is None or not runtime.nats.is_connected:
        raise ServiceUnavailable("NATS is unreachable; dead letters live in a stream.")
    return runtime


def admin_router() -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["operations"])

    @router.get("/dead-letters", response_model=DeadLetterList, summary="Events this service gave up on")
    async def get_dead_letters(
        request: Request,
        _: Admin,
        consumer: str | None = Query(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$"),
        after: int = Query(default=0, ge=0),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> DeadLetterList:
        runtime = await _runtime(request)
        letters = await list_dead_letters(
            runtime.nats.js, runtime.settings, consumer=consumer, after=after, limit=limit
        )
        return DeadLetterList(
            items=[DeadLetterOut(**letter.as_dict()) for letter in letters],
            next_after=letters[-1].id if len(letters) == limit else None,
        )

    @router.post(
        "/dead-letters/redrive",
        response_model=RedriveOut,
        summary="Apply dead letters again (after a fix); those that succeed leave the stream",
    )
    async def post_redrive(request: Request, principal: Admin, body: RedriveIn | None = None) -> RedriveOut:
        runtime = await _runtime(request)
        body = body or RedriveIn()
        results = await redrive(
            runtime.database,
            runtime.nats.js,
            [consumer.spec for consumer in runtime.consumers],
            ids=body.ids,
            consumer=body.consumer,
            tracing=runtime.tracing,
        )
        log.info("dead_letters_redriven", by=principal.subject, count=len(results))
        return RedriveOut(
            applied=sum(r.outcome == "applied" for r in results),
            duplicate=sum(r.outcome == "duplicate" for r in results),
            failed=sum(r.outcome not in ("applied", "duplicate", "refused") for r in results),
            refused=sum(r.outcome == "refused" for r in results),
            results=[vars(r) for r in results],
        )

    return router
