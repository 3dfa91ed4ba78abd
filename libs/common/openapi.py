"""The OpenAPI document every service serves, completed in one place: the problem+json answers any route
can give, the schema of a problem, and the links from a create operation to the reads of what it made.

A route declares only what is its own (a 404 or a 409 and why, with a description alone); the answers
that come from the shared machinery (the token check, the body limit, validation, the database going
away) are documented here once, so the document tells a client every status it can be answered with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from libs.common.errors import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}
PROBLEM_CONTENT: dict[str, Any] = {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_REF}}


class ProblemFieldError(BaseModel):
    field: str = Field(description="The field, as a path: `records[3].code`, `tracks.x`, `X-Correlation-ID`")
    message: str = Field(description="What is wrong with it (never the value sent)")
    in_: str | None = Field(default=None, alias="in", description="body, query, path or header")


class Problem(BaseModel):
    """An RFC 9457 problem (libs/common/errors.py). Other members may follow (e.g. a readiness check's
    ``checks``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:sib:problem:<slug>")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="The path asked for")
    correlation_id: str | None = Field(
        default=None, description="The request's trace id (W3C trace context), as in `X-Correlation-ID`"
    )
    errors: list[ProblemFieldError] | None = Field(default=None, description="One item per invalid field")


# The answers of the shared request machinery (libs/common/middleware.py RequestContextMiddleware and
# errors.install_problem_handlers) to a request on any route: a body declared too large and a
# CPR-shaped correlation id are refused before any route runs.
ANY_ROUTE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    413: {"description": "The request body is larger than the service accepts (`MAX_BODY_BYTES`)"},
    422: {
        "description": "A field is not valid (the problem's `errors[].field` names it; the value is never echoed)"
    },
}

# What every route behind a bearer token can answer besides its own outcomes, given once for all of
# them where each service includes its routers (libs/common/app.py).
AUTHENTICATED_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No bearer token, or one that is not valid"},
    403: {
        "description": "The token's role may not make this call, or the token is not scoped to the programme"
    },
    **ANY_ROUTE_PROBLEMS,
    503: {"description": "The database is unavailable; retry after `Retry-After` seconds"},
}

# A route whose path names something (a programme, a participant, a statement) answers 404 when there
# is no such thing, or when the caller may not know of it.
PATH_NOT_FOUND: dict[str, Any] = {"description": "Nothing by that id, or nothing the caller may see"}


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: what ``source`` (method, path, status) answers names the object that ``target``
    (method, path) reads or changes. ``parameters`` maps a target parameter to a runtime expression such
    as ``$response.body#/participant_id``. Clients (and the API fuzzer's stateful phase) follow it."""

    name: str
    source: tuple[str, str, int]
    target: tuple[str, str]
    parameters: Mapping[str, str] = field(default_factory=dict)


def links_from(
    source: tuple[str, str, int], parameters: Mapping[str, str], **targets: tuple[str, str]
) -> list[Link]:
    """Links from one answer to each of ``targets`` (name -> (method, path)), with the same parameters."""
    return [Link(name, source, target, parameters) for name, target in targets.items()]


def complete_openapi(app: FastAPI, links: Sequence[Link] = ()) -> Callable[[], dict[str, Any]]:
    """An ``app.openapi`` that builds the document once and completes it (see the module's docstring)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
        schemas.update(problem.pop("$defs", {}))
        schemas[PROBLEM_SCHEMA_NAME] = problem
        for item in document.get("paths", {}).values():
            for operation in item.values():
                _complete_operation(operation)
        _add_links(document, links)
        app.openapi_schema = document
        return document

    return openapi


def _complete_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if any(parameter.get("in") == "path" for parameter in operation.get("parameters", [])):
        responses.setdefault("404", dict(PATH_NOT_FOUND))
    success = next(
        (
            response["content"]
            for status, response in responses.items()
            if status.startswith("2")
            and any(media.get("schema") for media in response.get("content", {}).values())
        ),
        None,
    )
    for status, response in responses.items():
        if status.startswith("2") and success is not None:
            if not any(media.get("schema") for media in response.get("content", {}).values()):
                # A second success (200 for a retry beside 201) declared by description: the same body.
                response["content"] = {key: dict(value) for key, value in success.items()}
        if status.isdigit() and int(status) >= 400:
            # Every error is a problem+json (errors.problem_response), whatever the route's own media type.
            response["content"] = {key: dict(value) for key, value in PROBLEM_CONTENT.items()}


def _add_links(document: dict[str, Any], links: Sequence[Link]) -> None:
    paths: dict[str, Any] = document.get("paths", {})
    for link in links:
        method, path, status = link.source
        target_method, target_path = link.target
        source = paths[path][method.lower()]["responses"][str(status)]
        target_id = paths[target_path][target_method.lower()]["operationId"]
        source.setdefault("links", {})[link.name] = {
            "operationId": target_id,
            "parameters": dict(link.parameters),
        }
