"""NATS JetStream: the connection (``connection``), the ``sib.>`` stream and its dead-letter stream
(``streams``), and the durable pull consumers that apply events through the inbox (``consumer``).

Every name other code uses is importable from here: ``from libs.common.nats import EventConsumer``.
"""

from libs.common.nats.connection import NatsLink, connect_options
from libs.common.nats.consumer import (
    ConsumerSpec,
    EventConsumer,
    Handler,
    Outcome,
    PermanentFailure,
    describe_error,
)
from libs.common.nats.streams import (
    DL_CONSUMER,
    DL_DELIVERIES,
    DL_ERROR,
    DL_EVENT_TYPE,
    DL_FAILED_AT,
    DL_SERVICE,
    DL_STREAM_SEQ,
    DL_SUBJECT,
    MSG_ID_HEADER,
    dead_letter_stream,
    dead_letter_subject,
    ensure_stream,
    stream_configs,
)

__all__ = [
    "DL_CONSUMER",
    "DL_DELIVERIES",
    "DL_ERROR",
    "DL_EVENT_TYPE",
    "DL_FAILED_AT",
    "DL_SERVICE",
    "DL_STREAM_SEQ",
    "DL_SUBJECT",
    "MSG_ID_HEADER",
    "ConsumerSpec",
    "EventConsumer",
    "Handler",
    "NatsLink",
    "Outcome",
    "PermanentFailure",
    "connect_options",
    "dead_letter_stream",
    "dead_letter_subject",
    "describe_error",
    "ensure_stream",
    "stream_configs",
]
