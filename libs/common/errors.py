"""RFC 9457 problem+json: one error base class, mapped to a response in one place.

Validation problems name each field (``errors[].field``) but never echo the submitted value, so a CPR
number sent in a wrong field cannot come back in an error message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.common.cpr import mask_cpr_shapes_in_path
from libs.common.logging import get_correlation_id, get_logger

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:sib:problem:"

log = get_logger(__name__)


class ProblemError(Exception):
    """Base of every error a client may see. Subclasses set status, title and a type slug."""

    status: int = 500
    title: str = "Internal server error"
    slug: str = "internal-error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else []
        self.headers = dict(headers or {})
        self.extensions = extensions

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body


class BadRequest(ProblemError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(ProblemError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="sib"'})
        super().__init__(detail, **kwargs)


class Forbidden(ProblemError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ProblemError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(ProblemError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(ProblemError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class ValidationFailed(ProblemError):
    status, title, slug = 422, "Validation failed", "validation-failed"

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


def database_unavailable(exc: BaseException) -> bool:
    """The database is away (down, cut off, connecting too long), as opposed to a bad statement."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class ServiceUnavailable(ProblemError):
    status, title, slug = 503, "Service unavailable", "service-unavailable"

    def __init__(self, detail: str | None = None, retry_after_seconds: int = 5, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(retry_after_seconds)})
        super().__init__(detail, **kwargs)


def field_path(loc: Sequence[str | int]) -> str:
    """``("body", "tracks", "x")`` -> ``tracks.x``; ``("body", "records", 3, "code")`` -> ``records[3].code``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if part == "[key]":  # pydantic's marker for "the key itself is invalid"
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> ValidationFailed:
    items = [
        {
            "field": field_path(err.get("loc", ())),
            "in": _location(err.get("loc", ())),
            "message": err.get("msg", ""),
        }
        for err in errors
    ]
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in items[:5])
    if len(items) > 5:
        detail += f"; and {len(items) - 5} more"
    return ValidationFailed(detail, errors=items)


def _location(loc: Sequence[str | int]) -> str:
    return str(loc[0]) if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"


def problem_response(problem: ProblemError, request: Request | None = None) -> JSONResponse:
    body = problem.to_problem(
        instance=mask_cpr_shapes_in_path(request.url.path) if request is not None else None
    )
    correlation_id = get_correlation_id()
    if correlation_id:
        body["correlation_id"] = correlation_id
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_CONTENT_TYPE
    )


_HTTP_STATUS_PROBLEMS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    503: ServiceUnavailable,
}


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc.errors()), request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        problem_class = _HTTP_STATUS_PROBLEMS.get(exc.status_code)
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8): bad input like a body that is not
            # JSON, so the same 422 naming the body, not an undocumented bare 400.
            problem: ProblemError = ValidationFailed(
                "body: could not be read as JSON (UTF-8)",
                errors=[{"field": "body", "in": "body", "message": "could not be read as JSON (UTF-8)"}],
            )
        elif problem_class is not None:
            problem = problem_class(str(exc.detail) if exc.detail else None)
        else:
            problem = ProblemError(str(exc.detail))
            problem.status, problem.title, problem.slug = exc.status_code, str(exc.detail), "http-error"
        return problem_response(problem, request)

    async def on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is away (restarting, failing over, locked too long): a retryable 503, not a 500.
        # The transaction was rolled back, so nothing was half-written.
        log.warning("database_unavailable", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(
            ServiceUnavailable("The database is unavailable; retry shortly.", retry_after_seconds=5), request
        )

    async def on_dbapi_error(request: Request, exc: Exception) -> JSONResponse:
        # A driver error on a connection the pool has just invalidated (the database went away
        # mid-statement) is an outage too; any other database error is a bug.
        assert isinstance(exc, DBAPIError)
        if exc.connection_invalidated:
            return await on_database_unavailable(request, exc)
        return await on_unexpected(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never leak internals (or personal data inside them) to the client; the log has the trace.
        log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__, exc_info=exc)
        return problem_response(ProblemError("An unexpected error occurred; it has been logged."), request)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_database_unavailable)
    app.add_exception_handler(InterfaceError, on_database_unavailable)
    app.add_exception_handler(ConnectionError, on_database_unavailable)
    app.add_exception_handler(TimeoutError, on_database_unavailable)  # connecting took too long
    app.add_exception_handler(DBAPIError, on_dbapi_error)
    app.add_exception_handler(Exception, on_unexpected)


def _nul_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a decoded JSON document a string (or a key) holds a NUL character, if anywhere."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return (*path, key)
            found = _nul_path(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, (*path, index))
            if found is not None:
                return found
    return None


async def refuse_nul_characters(request: Request) -> None:
    """A route dependency: no text a client sends holds a NUL character. PostgreSQL cannot store one in
    a text column (a 500 there, while SQLite takes it), and no field of this API has a use for it. The
    field is named, the value is not echoed."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in str(value) or "\x00" in name:
            raise ValidationFailed.for_field(name, "must not contain a NUL character")
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()
        if b"\\u0000" in body:  # JSON can carry a NUL only as this escape
            try:
                found = _nul_path(json.loads(body))
            except ValueError:
                return  # not JSON: the route's own validation answers
            if found is not None:
                raise ValidationFailed.for_field(
                    field_path(("body", *found)), "must not contain a NUL character"
                )
