"""The request context every service's requests pass through (raw ASGI, so it costs no Starlette
request object): a server span continuing the caller's W3C trace, a token checked before a body is
read, one JSON log line and the metrics per request."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.common.auth import TokenVerifier
from libs.common.cpr import holds_cpr_shape, mask_cpr_shapes_in_path
from libs.common.errors import (
    PayloadTooLarge,
    ProblemError,
    Unauthorized,
    ValidationFailed,
    problem_response,
)
from libs.common.logging import CORRELATION_HEADER, get_logger
from libs.common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from libs.common.tracing import (
    TRACEPARENT,
    TRACESTATE,
    SpanKind,
    StatusCode,
    Tracing,
    context_of,
    started_span,
)

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
_CORRELATION = CORRELATION_HEADER.lower().encode()
_TRACEPARENT = TRACEPARENT.encode()
_TRACESTATE = TRACESTATE.encode()
_CPR_CHECKED_HEADERS = (
    (CORRELATION_HEADER, _CORRELATION),
    (TRACEPARENT, _TRACEPARENT),
    (TRACESTATE, _TRACESTATE),
)


class RequestContextMiddleware:
    """Starts the request's server span (a child of the caller's ``traceparent``, or a new trace),
    answers its trace id as ``X-Correlation-ID``, logs one JSON line per request and counts it.

    Logs the path without the query string, a CPR-shaped run in it masked (CPR numbers never belong in
    URLs, but a client may still put one there).
    """

    def __init__(
        self, app: ASGIApp, service: str, max_body_bytes: int, verifier: TokenVerifier, tracing: Tracing
    ) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.verifier = verifier
        self.tracing = tracing

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
        # The trace headers go into every event the request causes (kept for ever) and the correlation
        # alias into none, but a CPR number must not even be answered with a 200.
        for name, key in _CPR_CHECKED_HEADERS:
            value = headers.get(key)
            if value is not None and holds_cpr_shape(value.decode("latin-1")):
                refused = ValidationFailed.for_field(name, "must not hold a CPR-shaped number")
                await problem_response(refused)(scope, receive, send)
                return
        status_holder = {"status": 500}
        started = time.perf_counter()
        method = scope.get("method", "")
        caller = headers.get(_TRACEPARENT)
        parent = (
            context_of(caller.decode("latin-1"), headers.get(_TRACESTATE, b"").decode("latin-1"))
            if caller is not None
            else None
        )
        with started_span(self.tracing, method, SpanKind.SERVER, parent) as span:
            trace_id = span.get_span_context().trace_id
            echoed = [(_CORRELATION, format(trace_id, "032x").encode())] if trace_id else []

            async def send_with_header(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    message["headers"] = [*message.get("headers", ()), *echoed]
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
                status = status_holder["status"]
                HTTP_REQUESTS.labels(self.service, method, route_path, str(status)).inc()
                HTTP_LATENCY.labels(self.service, method, route_path).observe(elapsed)
                if span.is_recording():
                    span.update_name(f"{method} {route_path}")
                    span.set_attributes(
                        {
                            "http.request.method": method,
                            "url.path": mask_cpr_shapes_in_path(str(scope.get("path", ""))),
                            "http.route": route_path,
                            "http.response.status_code": status,
                        }
                    )
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)
                if scope.get("path") not in UNPROBED_PATHS:
                    log.info(
                        "request",
                        method=method,
                        path=mask_cpr_shapes_in_path(str(scope.get("path", ""))),
                        route=route_path,
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                    )
