"""The shape every service shares: lifespan (migrations, database, NATS, relay, consumers), request
context (``middleware.py``: trace, JSON request log, metrics), problem+json errors, health and metrics
routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server

from libs.common.admin import admin_router
from libs.common.asyncapi import asyncapi_yaml, build_asyncapi
from libs.common.auth import TokenVerifier
from libs.common.db import Database, sqlite_file
from libs.common.errors import (
    ServiceUnavailable,
    install_problem_handlers,
    problem_response,
    refuse_nul_characters,
)
from libs.common.logging import configure_logging, get_logger
from libs.common.loop_lag import watch_loop_lag
from libs.common.middleware import BODY_METHODS, PUBLIC_PATHS, UNPROBED_PATHS, RequestContextMiddleware
from libs.common.migrations import upgrade_head_async
from libs.common.nats import ConsumerSpec, EventConsumer, NatsLink
from libs.common.offload import WorkerPool
from libs.common.openapi import ANY_ROUTE_PROBLEMS, AUTHENTICATED_PROBLEMS, Link, complete_openapi
from libs.common.outbox import OutboxRelay
from libs.common.readaudit.api import read_audit_router
from libs.common.settings import CommonSettings
from libs.common.sqlite_checkpoint import WalCheckpointer
from libs.common.tracing import Tracing, configure_tracing

log = get_logger(__name__)

# Re-exported: they lived here before the middleware had a module of its own.
__all__ = [
    "BODY_METHODS",
    "PUBLIC_PATHS",
    "UNPROBED_PATHS",
    "RequestContextMiddleware",
    "Runtime",
    "ServiceDefinition",
    "create_service_app",
    "tune_collector",
]


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
    tracing: Tracing
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


def tune_collector(settings: CommonSettings) -> None:
    """The process's garbage collector as the settings say (``gc_thresholds``: settings.py says why).
    Every service's lifespan calls it; so do the benchmarks' baseline and scale runs, to compare alike."""
    gc.set_threshold(*settings.gc_thresholds)


def create_service_app(
    settings: CommonSettings, definition: ServiceDefinition, tracing: Tracing | None = None
) -> FastAPI:
    """The service's app; ``tracing``: its tracer provider (by default made from the standard
    ``OTEL_*`` variables, ``libs/common/tracing.py``)."""
    tracing = tracing or configure_tracing(settings.service_name)

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
        consumers = [EventConsumer(spec, database, link, tracing) for spec in definition.consumers]
        tasks = [asyncio.create_task(relay.run(), name="outbox-relay")]
        checkpointer = None
        database_file = sqlite_file(settings)
        if database_file is not None and settings.sqlite_checkpoint_interval_seconds > 0:
            checkpointer = WalCheckpointer(database_file, settings.sqlite_checkpoint_interval_seconds)
            tasks.append(asyncio.create_task(checkpointer.run(), name="sqlite-checkpoint"))
        tasks += [asyncio.create_task(c.run(), name=f"consumer-{c.durable}") for c in consumers]
        runtime = Runtime(settings, database, link, relay, consumers, tasks, tracing)
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
            tracing.shutdown()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
        docs_url="/docs" if settings.public_docs else None,
        openapi_url="/openapi.json" if settings.public_docs else None,
    )
    app.state.settings = settings
    app.state.tracing = tracing
    app.state.token_verifier = TokenVerifier(settings)
    for key, value in definition.extra_state.items():
        setattr(app.state, key, value)
    install_problem_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        service=settings.service_name,
        max_body_bytes=settings.max_body_bytes,
        verifier=app.state.token_verifier,
        tracing=tracing,
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
    app.include_router(
        read_audit_router(),
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
