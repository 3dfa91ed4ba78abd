"""The AsyncAPI 3.0.0 document of the events, generated from the registered payload contracts.

``python -m libs.common.asyncapi --write`` writes ``docs/asyncapi.yaml``; ``--check`` exits 1 when the
committed file has drifted from the contracts. Every service also serves it at ``/asyncapi.yaml`` and
``/asyncapi.json``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import yaml

import libs.common.contracts  # registers every payload contract
from libs.common.events import TYPE_PREFIX, EventPayload, registered_contracts, subject_for
from libs.common.settings import REPO_ROOT

CONTRACTS_PACKAGE = libs.common.contracts.__name__
ASYNCAPI_PATH = REPO_ROOT / "docs" / "asyncapi.yaml"
SCHEMA_REF = "#/components/schemas/{model}"
ENVELOPE = "CloudEventEnvelope"
HEADERS = "NatsHeaders"
CORRELATION = "CorrelationId"

DESCRIPTION = """\
Domain events of the SIB settlement platform (intake, progression, settlement), published as
CloudEvents 1.0 in structured JSON mode on NATS JetStream: the body of each NATS message is one
CloudEvent as a JSON object, whose `data` holds the payload (`datacontenttype` `application/json`).

**Subjects.** Event type `dk.sib.X` is published on subject `{prefix}.X`, e.g.
`dk.sib.progression.status.recorded.v1` on `{prefix}.progression.status.recorded.v1`. Subscribe to
`{prefix}.>` for everything, or to a single subject per event type.

**Stream.** Every event is kept in the JetStream stream `{stream}` (subjects `{prefix}.>`, file storage,
limits retention), so a consumer can replay from the start or from a point in time.

**Delivery.** At least once. The same event (same CloudEvent `id`) can arrive more than once, so
consumers de-duplicate on `id`. Each message also carries the header `Nats-Msg-Id` = `id`, which
JetStream uses to drop re-publications within its duplicate window. The only order is the stream
sequence, the order in which the stream stored the events; do not order events by `time`, and do not
expect more order than the stream sequence between events of different services.

**Versioning.** The type ends in `.vN`. A changed payload is a new type with a new `.vN` (and a new
subject); old versions stay registered and documented, because the stream still holds them.
Additive optional fields may be added to an existing version, so consumers must ignore fields they
do not know.

**Tracing.** Each event carries the W3C trace context of what caused it (the HTTP request, or the event
a consumer was applying), as the CloudEvents distributed-tracing attributes `traceparent` and
`tracestate`, and the same `traceparent` (and `tracestate`) as NATS message headers. A consumer
continues the trace: its span is a child of the `traceparent`. `correlationid` is the trace id alone
(32 lowercase hex digits), the `X-Correlation-ID` the HTTP request was answered with.

**Privacy.** Events never contain CPR numbers, nor anything derived from one: a person is identified
by the participant's UUID (`participant_id`) only. The version 1 participant events of intake, no
longer published, also carried `cpr_pseudonym`, a keyed HMAC-SHA256 of the CPR number that cannot be
reversed without intake's key; the stream still holds them.
"""


def _unwrap(text: str) -> str:
    """One line per paragraph, so the YAML shows the text as a readable block."""
    return "\n\n".join(" ".join(p.split()) for p in text.strip().split("\n\n")) + "\n"


class _Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that writes multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _envelope_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A CloudEvents 1.0 event in structured JSON mode. Unknown attributes (further "
        "extensions) may appear and must be ignored.",
        "required": ["specversion", "id", "source", "type", "time", "datacontenttype", "data"],
        "properties": {
            "specversion": {
                "type": "string",
                "const": "1.0",
                "description": "CloudEvents specification version.",
            },
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "UUID of the event, unique per event and stable across redeliveries: "
                "consumers de-duplicate on it. Also sent as the Nats-Msg-Id header.",
            },
            "source": {
                "type": "string",
                "pattern": "^/sib/[a-z_]+$",
                "description": "The publishing service: /sib/<service>.",
                "examples": ["/sib/intake", "/sib/progression", "/sib/settlement"],
            },
            "type": {
                "type": "string",
                "pattern": r"^dk\.sib\.[a-z_]+(\.[a-z_]+)+\.v[0-9]+$",
                "description": "The versioned event type, dk.sib.<service>.<entity>.<what>.v<N>; it "
                "names the schema of data.",
                "examples": ["dk.sib.progression.status.recorded.v1"],
            },
            "subject": {
                "type": "string",
                "description": "What the event is about, participant/<participant UUID> or "
                "programme/<programme id>. Optional: absent when the event has none.",
                "examples": [
                    "participant/0b7c6d0e-2d0f-4a8e-9f3a-5b1e2c4d6f70",
                    "programme/hedensted-2022",
                ],
            },
            "time": {
                "type": "string",
                "format": "date-time",
                "description": "When the event happened: an RFC 3339 timestamp in UTC.",
                "examples": ["2026-11-01T09:30:00.123456Z"],
            },
            "datacontenttype": {
                "type": "string",
                "const": "application/json",
                "description": "Media type of data.",
            },
            "correlationid": {
                "type": "string",
                "description": "Extension attribute: the trace id of traceparent, 32 lowercase hex "
                "digits (the X-Correlation-ID the HTTP request that caused the event was answered "
                "with). Events stored before tracing came hold the X-Correlation-ID a client sent then "
                "(any short printable text). Optional.",
            },
            "traceparent": {
                "type": "string",
                "description": "Extension attribute (CloudEvents distributed tracing): the W3C "
                "traceparent of the span that caused the event (the HTTP request, or the event a "
                "consumer was applying). Optional.",
                "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
            },
            "tracestate": {
                "type": "string",
                "description": "Extension attribute (CloudEvents distributed tracing): the W3C "
                "tracestate that goes with traceparent, when there is one. Optional.",
            },
            "data": {
                "type": "object",
                "description": "The payload; its schema is given by type.",
            },
        },
    }


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["Nats-Msg-Id"],
        "properties": {
            "Nats-Msg-Id": {
                "type": "string",
                "format": "uuid",
                "description": "The CloudEvent id. JetStream drops a message whose Nats-Msg-Id it has "
                "stored within the duplicate window, so a re-published event is stored once.",
            },
            "traceparent": {
                "type": "string",
                "description": "The event's traceparent attribute (W3C trace context), when it has one.",
            },
            "tracestate": {
                "type": "string",
                "description": "The event's tracestate attribute, when it has one.",
            },
        },
    }


def _open_for_additions(schema: Any) -> Any:
    """Drop ``additionalProperties: false``: additive optional fields may appear in an existing
    version, and a consumer validating against this document must not reject them."""
    if isinstance(schema, dict):
        return {
            key: _open_for_additions(value)
            for key, value in schema.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(schema, list):
        return [_open_for_additions(item) for item in schema]
    return schema


def _add_schema(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    existing = schemas.get(name)
    if existing is not None and existing != schema:
        raise ValueError(f"two different schemas are named {name!r}; rename one of the models")
    schemas[name] = schema


def _payload_schemas(contracts: dict[str, type[EventPayload]]) -> dict[str, Any]:
    """Each payload model's JSON schema (as serialised on the wire) and the models it uses, hoisted."""
    schemas: dict[str, Any] = {}
    for event_type in sorted(contracts):
        model = contracts[event_type]
        schema = _open_for_additions(model.model_json_schema(ref_template=SCHEMA_REF, mode="serialization"))
        for name, definition in sorted(schema.pop("$defs", {}).items()):
            _add_schema(schemas, name, definition)
        _add_schema(schemas, model.__name__, schema)
    return schemas


def published_contracts() -> dict[str, type[EventPayload]]:
    """The registered contracts of the platform, those in ``libs.common.contracts``; a type that a
    test registers for itself is not part of the published contract."""
    return {
        event_type: model
        for event_type, model in registered_contracts().items()
        if model.__module__.startswith(CONTRACTS_PACKAGE + ".")
    }


def _channel_id(event_type: str) -> str:
    return event_type[len(TYPE_PREFIX) :]


def build_asyncapi(prefix: str = "sib", stream: str = "SIB") -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document for subjects under ``prefix`` in the stream ``stream``."""
    contracts = published_contracts()
    schemas: dict[str, Any] = {ENVELOPE: _envelope_schema(), HEADERS: _headers_schema()}
    for name, schema in _payload_schemas(contracts).items():
        if name in schemas:
            raise ValueError(f"payload schema {name!r} collides with a reserved schema name")
        schemas[name] = schema

    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for event_type in sorted(contracts):
        model = contracts[event_type]
        channel_id = _channel_id(event_type)
        message_id = model.__name__
        if message_id in messages:
            raise ValueError(f"two payload models are named {message_id!r}")
        message: dict[str, Any] = {
            "name": event_type,
            "title": message_id,
            "summary": f"{event_type} from /sib/{channel_id.split('.', 1)[0]}",
            "headers": {"$ref": f"#/components/schemas/{HEADERS}"},
            "correlationId": {"$ref": f"#/components/correlationIds/{CORRELATION}"},
            "payload": {
                "allOf": [
                    {"$ref": f"#/components/schemas/{ENVELOPE}"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "const": event_type},
                            "data": {"$ref": SCHEMA_REF.format(model=model.__name__)},
                        },
                    },
                ]
            },
        }
        if model.__doc__:
            message["description"] = inspect.cleandoc(model.__doc__)
        messages[message_id] = message
        channels[channel_id] = {
            "address": subject_for(event_type, prefix),
            "title": event_type,
            "servers": [{"$ref": "#/servers/nats"}],
            "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
        }
        operations[f"receive{message_id}"] = {
            "action": "receive",
            "title": f"Receive {event_type}",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "SIB platform events",
            "version": "1.0.0",
            "description": _unwrap(DESCRIPTION.format(prefix=prefix, stream=stream)),
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": f"NATS with JetStream; the events are kept in the stream {stream}. "
                "The host is a placeholder: use your environment's NATS URL.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
            "correlationIds": {
                CORRELATION: {
                    "description": "The trace id of the request that caused the event (its "
                    "X-Correlation-ID); the whole trace context is in traceparent.",
                    "location": "$message.payload#/correlationid",
                }
            },
        },
    }


def asyncapi_yaml(prefix: str = "sib", stream: str = "SIB") -> str:
    # Through JSON, so that no two places share an object and the YAML holds no anchors or aliases.
    document = json.loads(json.dumps(build_asyncapi(prefix, stream)))
    text: str = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {ASYNCAPI_PATH}")
    action.add_argument("--check", action="store_true", help=f"exit 1 if {ASYNCAPI_PATH} is out of date")
    parser.add_argument("--path", type=Path, default=ASYNCAPI_PATH)
    args = parser.parse_args(argv)
    text = asyncapi_yaml()
    if args.write:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}")
        return 0
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else None
        if current != text:
            print(
                f"{args.path} is out of date; run: python -m libs.common.asyncapi --write",
                file=sys.stderr,
            )
            return 1
        print(f"{args.path} is up to date")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
