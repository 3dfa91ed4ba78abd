"""The shape every service shares: lifespan (migrations, database, NATS, relay, consumers), request
context (correlation id, JSON request log, metrics), problem+json errors, health and metrics routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.common.admin import admin_router
from libs.common.asyncapi import asyncapi_yaml, build_asyncapi
from libs.common.auth import TokenVerifier
from libs.common.cpr import holds_cpr_shape, mask_cpr_shapes_in_path
from libs.common.db import Database, sqlite_file
from libs.common.errors import (
    PayloadTooLarge,
    ProblemError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    install_problem_handlers,
    problem_response,
    refuse_nul_characters,
)
from libs.common.logging import CORRELATION_HEADER, configure_logging, correlation_scope, get_logger
from libs.common.loop_lag import watch_loop_lag
from libs.common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from libs.common.migrations import upgrade_head_async
from libs.common.nats import ConsumerSpec, EventConsumer, NatsLink
from libs.common.offload import WorkerPool
from libs.common.openapi import ANY_ROUTE_PROBLEMS, AUTHENTICATED_PROBLEMS, Link, complete_openapi
from libs.common.outbox import OutboxRelay
from libs.common.settings import CommonSettings
from libs.common.sqlite_checkpoint import WalCheckpointer

log = get_logger(__name__)

UNPROBED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# A request with a body (these methods) to any path but these shows a valid token before a byte of its
# body is read.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = UNPROBED_PATHS | {
    "/asyncapi.yaml",
    "/asyncapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/openapi.json",
}


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    migrations_dir: Path
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[ConsumerSpec] = ()
    version: str = "0.1.0"
    extra_state: dict[str, Any] = field(default_factory=dict)
    shutdown_hooks: Sequence[Callable[[], Awaitable[None]]] = ()
    # Long-running work besides the relay and consumers (e.g. settlement's gap repair); each gets the
    # Runtime and should return soon after ``runtime.stopping`` is set.
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()
    # OpenAPI links from a create operation to the reads of what it made (libs/common/openapi.py).
    links: Sequence[Link] = ()
    # What the service holds on ``app.state`` for as long as it runs, made once the database is open
    # (e.g. progression's status writer); each name and value is set as an attribute of the state.
    running_state: Callable[[Runtime], dict[str, Any]] | None = None


@dataclass
class Runtime:
    """What a running service holds; available as ``app.state.runtime``."""

    settings: CommonSettings
    database: Database
    nats: NatsLink
    relay: OutboxRelay
    consumers: list[EventConsumer]
    tasks: list[asyncio.Task[None]]
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


def tune_collector(settings: CommonSettings) -> None:
    """The process's garbage collector as the settings say (``gc_thresholds``: settings.py says why).
    Every service's lifespan calls it; so do the benchmarks' baseline and scale runs, to compare alike."""
    gc.set_threshold(*settings.gc_thresholds)


def create_service_app(settings: CommonSettings, definition: ServiceDefinition) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        tune_collector(settings)
        await upgrade_head_async(settings, definition.migrations_dir)
        database = Database(settings)
        if await database.autovacuum_off():
            log.warning(
                "postgresql_autovacuum_off",
                hint="Tables are never analysed; turn autovacuum on (PostgreSQL's default) or ANALYZE "
                "the service's tables regularly.",
            )
        link = NatsLink(settings)
        link.start()
        relay = OutboxRelay(database, link)
        consumers = [EventConsumer(spec, database, link) for spec in definition.consumers]
        tasks = [asyncio.create_task(relay.run(), name="outbox-relay")]
        checkpointer = None
        database_file = sqlite_file(settings)
        if database_file is not None and settings.sqlite_checkpoint_interval_seconds > 0:
            checkpointer = WalCheckpointer(database_file, settings.sqlite_checkpoint_interval_seconds)
            tasks.append(asyncio.create_task(checkpointer.run(), name="sqlite-checkpoint"))
        tasks += [asyncio.create_task(c.run(), name=f"consumer-{c.durable}") for c in consumers]
        runtime = Runtime(settings, database, link, relay, consumers, tasks)
        tasks += [
            asyncio.create_task(job(runtime), name=getattr(job, "__name__", "job"))
            for job in definition.background
        ]
        app.state.runtime = runtime
        app.state.database = database
        if definition.running_state is not None:
            for key, value in definition.running_state(runtime).items():
                setattr(app.state, key, value)
        app.state.workers = workers = WorkerPool(settings.report_workers)
        # Apart from ``tasks``: it has nothing to finish, so shutdown cancels it rather than wait for it.
        lag_watch = asyncio.create_task(
            watch_loop_lag(settings.service_name, settings.event_loop_lag_interval_seconds),
            name="event-loop-lag",
        )
        metrics_server = None
        if settings.metrics_port is not None:
            # prometheus-client's own server, in a thread: the metrics off the public port.
            metrics_server, _ = start_http_server(settings.metrics_port, addr="0.0.0.0")
        log.info("service_started", version=definition.version)
        try:
            yield
        finally:
            # Let in-flight consumer work and the current relay pass finish, then close.
            runtime.stopping.set()
            lag_watch.cancel()
            workers.shutdown()
            relay.stop()
            if checkpointer is not None:
                checkpointer.stop()
            for consumer in consumers:
                consumer.stop()
            _, still_running = await asyncio.wait(tasks, timeout=10) if tasks else (set(), set())
            for task in still_running:
                task.cancel()
            for task in still_running:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(asyncio.CancelledError):
                await lag_watch
            for hook in definition.shutdown_hooks:
                await hook()
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            await link.close()
            await app.state.token_verifier.close()
            await database.dispose()
            log.info("service_stopped")

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
        docs_url="/docs" if settings.public_docs else None,
        openapi_url="/openapi.json" if settings.public_docs else None,
    )
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    for key, value in definition.extra_state.items():
        setattr(app.state, key, value)
    install_problem_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        service=settings.service_name,
        max_body_bytes=settings.max_body_bytes,
        verifier=app.state.token_verifier,
    )
    app.include_router(
        _operations_router(metrics_on_public_port=settings.metrics_port is None), responses=ANY_ROUTE_PROBLEMS
    )
    # Every route of these routers needs a bearer token: the answers that gives them (401, 403, ...)
    # are documented here once; a route documents only its own (404, 409).
    # No text a client sends may hold a NUL character (PostgreSQL cannot store one).
    clean_text = [Depends(refuse_nul_characters)]
    app.include_router(
        admin_router(),
        max_body_size=settings.max_body_bytes,
        responses=AUTHENTICATED_PROBLEMS,
        dependencies=clean_text,
    )
    for router in definition.routers:
        # Per route, so a body that streams in without a Content-Length and grows past the limit ends
        # in the same problem+json 413 as one refused up front by RequestContextMiddleware.
        app.include_router(
            router,
            max_body_size=settings.max_body_bytes,
            responses=AUTHENTICATED_PROBLEMS,
            dependencies=clean_text,
        )
    app.openapi = complete_openapi(app, definition.links)  # type: ignore[method-assign]
    return app


def _operations_router(metrics_on_public_port: bool) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: the database and NATS are reachable",
        responses={503: {"description": "Not ready (problem+json)"}},
    )
    async def readyz(request: Request) -> Response:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks = {"database": "down", "nats": "down"}
        if runtime is not None:
            try:
                await asyncio.wait_for(runtime.database.ping(), timeout=2)
                checks["database"] = "ok"
            except Exception as exc:
                log.warning("readiness_database_failed", error=type(exc).__name__)
            if runtime.nats.is_connected:
                checks["nats"] = "ok"
        if all(value == "ok" for value in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        down = ", ".join(name for name, value in checks.items() if value != "ok")
        return problem_response(ServiceUnavailable(f"Not ready: {down} unreachable.", checks=checks), request)

    if metrics_on_public_port:

        @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
        async def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/asyncapi.yaml", summary="AsyncAPI 3.0 document of the events", response_class=Response)
    async def asyncapi_document_yaml(request: Request) -> Response:
        settings: CommonSettings = request.app.state.settings
        text = asyncapi_yaml(settings.subject_prefix, settings.nats_stream)
        return Response(text, media_type="application/yaml")

    @router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of the events (JSON)")
    async def asyncapi_document_json(request: Request) -> dict[str, Any]:
        settings: CommonSettings = request.app.state.settings
        return build_asyncapi(settings.subject_prefix, settings.nats_stream)

    return router


class RequestContextMiddleware:
    """Binds the correlation id, echoes it back, logs one JSON line per request and counts it.

    Logs the path without the query string, a CPR-shaped run in it masked (CPR numbers never belong in
    URLs, but a client may still put one there).
    """

    def __init__(self, app: ASGIApp, service: str, max_body_bytes: int, verifier: TokenVerifier) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.verifier = verifier

    async def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> ProblemError | None:
        """Why the request may not go on (None when it may): a route that needs a token gets a valid
        one before its body is read, so no one unauthenticated makes a service read megabytes. The
        route's own dependency then finds the token verified already (the verifier keeps it)."""
        if scope.get("method") not in BODY_METHODS or scope.get("path") in PUBLIC_PATHS:
            return None  # no body to protect: the route's own dependency checks the token
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return Unauthorized("A bearer token is required.")
        try:
            await self.verifier.verify(token.strip())
        except ProblemError as problem:
            return problem
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(CORRELATION_HEADER.lower().encode())
        if incoming is not None and holds_cpr_shape(incoming.decode("latin-1")):
            # Refused before it is bound to a log line or an event (which keep it for ever); not echoed.
            refused = ValidationFailed.for_field(CORRELATION_HEADER, "must not hold a CPR-shaped number")
            await problem_response(refused)(scope, receive, send)
            return
        status_holder = {"status": 500}
        started = time.perf_counter()
        with correlation_scope(incoming.decode("latin-1") if incoming else None) as correlation_id:

            async def send_with_header(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (CORRELATION_HEADER.lower().encode(), correlation_id.encode()),
                    ]
                await send(message)

            try:
                declared = headers.get(b"content-length", b"")
                refusal = await self._refusal(scope, headers)
                if refusal is not None:
                    await problem_response(refusal)(scope, receive, send_with_header)
                elif declared.isdigit() and int(declared) > self.max_body_bytes:
                    # Refused before reading a byte. Bodies without a length are cut off by FastAPI's
                    # own limit (max_body_size) while they stream in.
                    too_large = PayloadTooLarge(
                        f"The request body is {int(declared):,} bytes; the limit is {self.max_body_bytes:,}."
                    )
                    await problem_response(too_large)(scope, receive, send_with_header)
                else:
                    await self.app(scope, receive, send_with_header)
            finally:
                elapsed = time.perf_counter() - started
                route = scope.get("route")
                route_path = getattr(route, "path", "unmatched")
                method = scope.get("method", "")
                status = status_holder["status"]
                HTTP_REQUESTS.labels(self.service, method, route_path, str(status)).inc()
                HTTP_LATENCY.labels(self.service, method, route_path).observe(elapsed)
                if scope.get("path") not in UNPROBED_PATHS:
                    log.info(
                        "request",
                        method=method,
                        path=mask_cpr_shapes_in_path(str(scope.get("path", ""))),
                        route=route_path,
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                    )
