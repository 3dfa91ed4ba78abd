from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from libs.common.asyncapi import ASYNCAPI_PATH, asyncapi_yaml, build_asyncapi, published_contracts
from libs.common.contracts import StatusRecordedV1
from libs.common.events import CloudEvent, registered_contracts, subject_for


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_asyncapi()


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and token in node, f"{ref} does not resolve"
        node = node[token]
    return node


def test_the_committed_document_is_the_generated_one() -> None:
    assert ASYNCAPI_PATH.exists(), (
        "docs/asyncapi.yaml is missing; run: python -m libs.common.asyncapi --write"
    )
    committed = ASYNCAPI_PATH.read_text(encoding="utf-8")
    assert committed == asyncapi_yaml(), (
        "docs/asyncapi.yaml has drifted from the contracts; run: python -m libs.common.asyncapi --write"
    )


def test_the_generated_text_is_deterministic_and_parses_back() -> None:
    text = asyncapi_yaml()
    assert text == asyncapi_yaml()
    assert yaml.safe_load(text) == build_asyncapi()
    assert "&id" not in text  # no YAML anchors or aliases


def test_only_the_platform_contracts_are_published() -> None:
    published = published_contracts()
    assert len(published) >= 10
    for event_type, model in registered_contracts().items():
        assert (event_type in published) == model.__module__.startswith("libs.common.contracts.")


def test_every_event_type_has_a_channel_and_a_message_carrying_its_payload(document: dict[str, Any]) -> None:
    channels = document["channels"]
    by_address = {channel["address"]: channel for channel in channels.values()}
    assert len(by_address) == len(channels) == len(published_contracts())
    for event_type, model in published_contracts().items():
        channel = by_address[subject_for(event_type, "sib")]
        assert channel["address"] == "sib." + event_type.removeprefix("dk.sib.")
        [message_ref] = channel["messages"].values()
        message = resolve(document, message_ref["$ref"])
        assert message["name"] == event_type
        assert message["correlationId"] == {"$ref": "#/components/correlationIds/CorrelationId"}
        envelope, specific = message["payload"]["allOf"]
        assert envelope == {"$ref": "#/components/schemas/CloudEventEnvelope"}
        assert specific["properties"]["type"]["const"] == event_type
        data_ref = specific["properties"]["data"]["$ref"]
        assert data_ref == f"#/components/schemas/{model.__name__}"
        assert resolve(document, data_ref)["title"] == model.__name__
        if model.__doc__:
            assert message["description"].split()[:3] == model.__doc__.split()[:3]


def test_channels_follow_the_prefix_and_the_stream_is_named() -> None:
    document = build_asyncapi(prefix="acme", stream="ACME")
    assert all(channel["address"].startswith("acme.") for channel in document["channels"].values())
    description = document["info"]["description"]
    assert "`ACME`" in description and "`acme.>`" in description


def test_the_document_is_asyncapi_3_and_every_reference_resolves(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["nats"]["protocol"] == "nats"
    assert document["servers"]["nats"]["host"] == "localhost:4222"
    assert document["operations"]
    for operation in document["operations"].values():
        assert operation["action"] == "receive"
        channel = resolve(document, operation["channel"]["$ref"])
        assert channel in document["channels"].values()
        for message_ref in operation["messages"]:
            assert message_ref["$ref"].startswith(operation["channel"]["$ref"] + "/messages/")
            resolve(document, message_ref["$ref"])
    refs = [node["$ref"] for _, node in walk(document) if isinstance(node, dict) and "$ref" in node]
    assert len(refs) > 50
    for ref in refs:
        resolve(document, ref)
    correlation = document["components"]["correlationIds"]["CorrelationId"]
    assert correlation["location"] == "$message.payload#/correlationid"


def test_the_envelope_and_the_headers_are_documented(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    envelope = schemas["CloudEventEnvelope"]
    assert set(envelope["properties"]) == {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "correlationid",
        "traceparent",
        "tracestate",
        "data",
    }
    assert set(envelope["properties"]) == set(CloudEvent.model_fields)  # every attribute the model writes
    assert envelope["properties"]["specversion"]["const"] == "1.0"
    assert envelope["properties"]["datacontenttype"]["const"] == "application/json"
    assert "subject" not in envelope["required"] and "correlationid" not in envelope["required"]
    assert {"Nats-Msg-Id", "traceparent", "tracestate"} <= set(schemas["NatsHeaders"]["properties"])
    for absent in ("correlationid", "traceparent", "tracestate"):
        assert absent not in envelope["required"]
    info = document["info"]["description"]
    for phrase in ("`dk.sib.X`", "`sib.X`", "`SIB`", "At least once", "de-duplicate on `id`", ".vN", "CPR"):
        assert phrase in info


def test_status_recorded_requires_its_recording_sequence(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"][StatusRecordedV1.__name__]
    assert "recording_seq" in schema["required"]
    assert "$defs" not in schema


def test_payload_schemas_accept_additive_fields(document: dict[str, Any]) -> None:
    for _, node in walk(document["components"]["schemas"]):
        if isinstance(node, dict):
            assert node.get("additionalProperties") is not False


def test_no_schema_property_carries_a_cpr_number(document: dict[str, Any]) -> None:
    names: set[str] = set()
    for _, node in walk(document):
        if isinstance(node, dict) and isinstance(node.get("properties"), dict):
            names.update(node["properties"])
    assert "cpr_pseudonym" in names  # in the v1 participant events the stream still holds
    offending = sorted(name for name in names if "cpr" in name.lower() and name != "cpr_pseudonym")
    assert offending == []


def test_only_the_v1_participant_events_carry_the_pseudonym(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    carrying = sorted(
        name for name, schema in schemas.items() if "cpr_pseudonym" in schema.get("properties", {})
    )
    assert carrying == ["ParticipantEnrolledV1", "ParticipantReferredV1", "ParticipantWithdrawnV1"]
    for name in carrying:
        v2 = schemas[name.replace("V1", "V2")]
        assert set(v2["properties"]) == set(schemas[name]["properties"]) - {"cpr_pseudonym"}
        assert "Superseded" in schemas[name]["description"]
