"""Print SIB platform events from NATS JetStream, one line per event: time, type, subject, id.

A standalone example for integrators (needs only nats-py: ``pip install nats-py``). Without
``--since`` it shows new events only; with ``--since`` it first replays the stream from that time.
Delivery is at least once, so it skips an event whose CloudEvent ``id`` it has already printed.

It connects with the integrators' read-only NATS credentials, from the environment so they never show
in a process list (as ``make run`` prints them, with ``NATS_URL``): a creds file (``NATS_CREDS_FILE``) or a user and password (``NATS_USER``, default
``integrator``, and ``NATS_PASSWORD``); ``NATS_TLS_CA`` for a server with a private CA. Replies come to
the user's own inbox prefix (``_INBOX.<user>``), the only one its permissions let it read.

    NATS_PASSWORD=... python subscriber.py --url tls://nats.example:4222 --since 2026-11-01T00:00:00Z
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
from datetime import datetime

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy


def aware_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a timezone, e.g. {value}Z or {value}+01:00")
    return parsed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Print SIB platform events from NATS JetStream.")
    parser.add_argument(
        "--url",
        default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS server URL (default: NATS_URL)",
    )
    parser.add_argument("--since", type=aware_time, help="replay from this time (ISO 8601 with timezone)")
    parser.add_argument("--subject", default="sib.>", help="subject filter (default: all events)")
    parser.add_argument("--stream", default="SIB", help="JetStream stream name")
    parser.add_argument("--max", type=int, help="stop after this many events")
    parser.add_argument("--idle", type=float, help="stop after this many seconds without a message")
    return parser.parse_args(argv)


def credentials() -> dict[str, object]:
    user = os.environ.get("NATS_USER", "integrator")
    options: dict[str, object] = {"inbox_prefix": f"_INBOX.{user}"}
    if os.environ.get("NATS_CREDS_FILE"):
        options["user_credentials"] = os.environ["NATS_CREDS_FILE"]
    elif os.environ.get("NATS_PASSWORD"):
        options |= {"user": user, "password": os.environ["NATS_PASSWORD"]}
    if os.environ.get("NATS_TLS_CA"):
        options["tls"] = ssl.create_default_context(cafile=os.environ["NATS_TLS_CA"])
    return options


async def run(args: argparse.Namespace) -> int:
    async def on_error(exc: Exception) -> None:
        print(f"NATS: {exc}", file=sys.stderr)

    try:
        nc = await nats.connect(
            args.url, connect_timeout=5, max_reconnect_attempts=2, error_cb=on_error, **credentials()
        )
    except nats.errors.NoServersError:
        print(f"could not connect to {args.url} (see the errors above)", file=sys.stderr)
        return 1
    js = nc.jetstream()
    if args.since is None:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
    else:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=args.since)
    # An ordered consumer is ephemeral: the server forgets it when we go away, and nothing is acked.
    sub = await js.subscribe(args.subject, stream=args.stream, config=config, ordered_consumer=True)
    seen: set[str] = set()
    printed = 0
    try:
        while args.max is None or printed < args.max:
            try:
                msg = await sub.next_msg(timeout=args.idle)
            except (NatsTimeout, TimeoutError):
                break  # --idle seconds without a message
            try:
                event = json.loads(msg.data)
                event_id = str(event["id"])
            except (ValueError, KeyError, TypeError):
                print(f"skipped a message on {msg.subject} that is not a CloudEvent", file=sys.stderr)
                continue
            if event_id in seen:
                continue  # at-least-once delivery: the same event again
            seen.add(event_id)
            printed += 1
            subject = event.get("subject") or "-"
            print(f"{event.get('time')} {event.get('type')} {subject} {event_id}", flush=True)
    finally:
        await sub.unsubscribe()
        await nc.close()
    return 0


def main() -> int:
    args = parse_args()
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
