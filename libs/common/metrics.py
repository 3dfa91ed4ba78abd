"""Prometheus metrics, defined once per process and labelled by service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "sib_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "sib_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_PUBLISHED = Counter("sib_outbox_published_total", "Outbox events published", ["service", "type"])
OUTBOX_DUPLICATES = Counter(
    "sib_outbox_duplicates_total", "Publishes JetStream reported as duplicates", ["service"]
)
OUTBOX_PRUNED = Counter(
    "sib_outbox_pruned_total", "Published outbox rows deleted after the retention period", ["service"]
)
OUTBOX_PENDING = Gauge("sib_outbox_pending", "Outbox rows not yet published (last relay pass)", ["service"])
EVENTS_CONSUMED = Counter(
    "sib_events_consumed_total",
    "Events handled by consumers, by outcome (applied, duplicate, failed, skipped)",
    ["service", "consumer", "type", "outcome"],
)
DEAD_LETTERS = Counter(
    "sib_dead_letters_total", "Events copied to the dead-letter stream", ["service", "consumer"]
)
GAP_RESYNCS = Counter(
    "sib_gap_resyncs_total",
    "Participants resynced from the source after a gap in their recording sequence, by outcome",
    ["service", "outcome"],
)
# How late the event loop's own timer woke (libs/common/loop_lag.py): the time every request, consumer
# and ack waited behind work that held the loop.
EVENT_LOOP_LAG = Histogram(
    "sib_event_loop_lag_seconds",
    "How late a timer on the event loop woke, sampled every EVENT_LOOP_LAG_INTERVAL_SECONDS",
    ["service"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENT_LOOP_LAG_LAST = Gauge(
    "sib_event_loop_lag_last_seconds", "The event loop's lag at the last sample", ["service"]
)
