"""The ``sib.>`` event stream and the dead-letter stream beside it: their configuration, the
message-id header JetStream deduplicates on, and the headers a dead letter carries."""

from __future__ import annotations

import contextlib

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from libs.common.settings import CommonSettings

MSG_ID_HEADER = "Nats-Msg-Id"
# Headers of a dead letter: the message body is the original event, unchanged.
DL_CONSUMER = "Sib-Dead-Consumer"
DL_SERVICE = "Sib-Dead-Service"
DL_SUBJECT = "Sib-Dead-Subject"
DL_STREAM_SEQ = "Sib-Dead-Stream-Seq"
DL_DELIVERIES = "Sib-Dead-Deliveries"
DL_EVENT_TYPE = "Sib-Dead-Event-Type"
DL_ERROR = "Sib-Dead-Error"
DL_FAILED_AT = "Sib-Dead-Failed-At"


def dead_letter_stream(settings: CommonSettings) -> str:
    return f"{settings.nats_stream}_DLQ"


def dead_letter_subject(settings: CommonSettings, consumer: str) -> str:
    """``<prefix>-dlq.<service>.<consumer>``: outside ``<prefix>.>``, so integrators never see it."""
    return f"{settings.subject_prefix}-dlq.{settings.service_name}.{consumer}"


def stream_configs(settings: CommonSettings) -> list[StreamConfig]:
    """The event stream (every ``<prefix>.>`` subject, on disk, never expiring, deduplicating on
    Nats-Msg-Id; a rebuild replays it from the start) and the dead-letter stream beside it. Both let
    single messages be deleted: the stream eraser removes an erased citizen's (docs/privacy.md)."""
    return [
        StreamConfig(
            name=settings.nats_stream,
            subjects=[f"{settings.subject_prefix}.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            duplicate_window=settings.nats_duplicate_window_seconds,
            deny_delete=False,
        ),
        StreamConfig(
            name=dead_letter_stream(settings),
            subjects=[f"{settings.subject_prefix}-dlq.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            duplicate_window=settings.nats_duplicate_window_seconds,
            deny_delete=False,
        ),
    ]


async def ensure_stream(js: JetStreamContext, settings: CommonSettings) -> None:
    for config in stream_configs(settings):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            with contextlib.suppress(Exception):  # another service may have created it just now
                await js.add_stream(config)
            await js.stream_info(config.name)
