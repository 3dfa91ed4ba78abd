"""What the operator commands need of a service: its settings (with the operator's NATS user), its
consumers, tables and migrations, and a connection to the stream."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import MetaData

from deploy.local import development_nats_credentials
from libs.common.nats import ConsumerSpec, connect_options, ensure_stream
from libs.common.readaudit.store import READ_AUDIT_TABLES
from libs.common.settings import CommonSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServiceOps:
    name: str
    settings_class: type[CommonSettings]
    consumers: Sequence[ConsumerSpec]
    metadata: MetaData
    read_model: tuple[str, ...]  # the tables a replay of the stream rebuilds
    replaceable: bool  # every other table is carried over, so the rebuilt database may replace it
    carried: tuple[str, ...] = ()  # entered over REST, on no stream: copied from the live database

    @property
    def migrations_dir(self) -> Path:
        return REPO_ROOT / "services" / self.name / "migrations"


def service_ops(name: str) -> ServiceOps:
    if name not in ("intake", "progression", "settlement"):
        raise SystemExit(f"unknown service {name!r}: intake, progression or settlement")
    settings_module = importlib.import_module(f"services.{name}.settings")
    settings_class = getattr(settings_module, f"{name.capitalize()}Settings")
    consumers = importlib.import_module(f"services.{name}.handlers").CONSUMERS
    metadata = importlib.import_module(f"services.{name}.models").Base.metadata
    read_model: dict[str, tuple[str, ...]] = {
        "intake": (),
        "progression": ("programmes", "participants", "erased_participants"),
        "settlement": (
            "programme_terms",
            "participants",
            "status_records",
            "cutoff_facts",
            "participant_months",
            "statements",
            "statement_lines",
            "measurements",
            "erased_participants",  # from participant.erased.v1
            # From settlement's own invoice.issued.v1 and payment.recorded.v1 (every column on them).
            "invoice_counters",
            "invoices",
            "invoice_payments",
        ),
    }
    # statement_drafts: working state, not on the stream (only what approval issued is). Disputes:
    # their events leave out the text, evidence and steps, so only the live rows hold them. In
    # foreign-key order: a dispute before its lines and steps.
    carried = (
        (
            "economic_assumptions",
            "municipal_spending",
            "statement_drafts",
            "disputes",
            "dispute_lines",
            "dispute_steps",
            # The read audit: written by reads, on no stream; its rows before their subjects and head.
            *READ_AUDIT_TABLES,
        )
        if name == "settlement"
        else ()
    )
    return ServiceOps(
        name, settings_class, consumers, metadata, read_model[name], name == "settlement", carried
    )


def operator_settings(ops: ServiceOps) -> CommonSettings:
    """The service's settings with the operator's NATS user (a service's own may not replay the
    stream or delete a letter): NATS_USER and its credentials from the environment, or on a developer's
    machine those `make run` generated."""
    if "NATS_USER" in os.environ or "NATS_CREDS_FILE" in os.environ or "NATS_NKEY_SEED" in os.environ:
        return ops.settings_class()
    overrides: dict[str, Any] = {"nats_user": "operator"}
    development = development_nats_credentials("operator")
    if development and "NATS_PASSWORD" not in os.environ:
        overrides["nats_password"] = development["NATS_PASSWORD"]
        if "NATS_URL" not in os.environ:
            overrides["nats_url"] = development["NATS_URL"]
    return ops.settings_class(**overrides)


async def connect(settings: CommonSettings) -> tuple[NatsClient, JetStreamContext]:
    client = await nats.connect(
        servers=[settings.nats_url], connect_timeout=5, name="sib-ops", **connect_options(settings)
    )
    js = client.jetstream(timeout=10)
    await ensure_stream(js, settings)
    return client, js
