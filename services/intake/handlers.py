"""Inbound events -> use cases. Intake owns the start of every flow and consumes no events yet."""

from __future__ import annotations

from libs.common.nats import ConsumerSpec

CONSUMERS: list[ConsumerSpec] = []
