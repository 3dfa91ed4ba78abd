"""Who may do what on NATS: a user per service, one for integrators and one for the operator, each
with the subjects it may publish and subscribe to, written as a nats-server configuration.

- A service publishes only its own events (``sib.<service>.>``) and its own dead letters
  (``sib-dlq.<service>.>``); of the JetStream API it uses stream info, stream create (which cannot
  change an existing stream), its own durable consumers and the dead-letter stream's messages.
- An integrator reads: it creates and uses consumers of its own on the event stream, and can publish
  nothing on ``sib.>`` or ``sib-dlq.>``, nor touch the services' consumers.
- The operator (``make rebuild``, ``make redrive``, ``make dead-letters``) has the whole JetStream API,
  and publishes no event.
- The eraser (``make erase-streams``, deploy/ops/erase_streams.py) uses its durable consumer of the
  erasure events, reads each stream with its one ephemeral consumer, and deletes single messages of
  the event and dead-letter streams; it publishes no event and cannot delete, purge or change a stream.
  It may ask for the info (the ack floor) of the services' durables that take the erasure events
  (``erasure_watchers``), and of no other.
- Nobody but the operator may delete, purge or change a stream.

Replies come to each user's own inbox prefix, ``_INBOX.<user>``, so no one reads another's replies.

    python -m deploy.nats_auth --out var/nats.conf    # a development configuration, passwords generated
    python -m deploy.nats_auth --out /config/nats.conf --passwords-from-env \
        --tls-cert /certs/server.pem --tls-key /certs/server-key.pem    # compose, Kubernetes

With ``--passwords-from-env`` each user's password comes from ``<USER>_NATS_PASSWORD`` (say
``INTAKE_NATS_PASSWORD``, ``OPERATOR_NATS_PASSWORD``). A deployment that manages NATS with accounts and
``nsc`` instead takes the permissions from ``permissions()`` (deploy/nats/permissions.json) and gives
each service a creds file (NATS_CREDS_FILE).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libs.common.contracts import ParticipantErasedV1
from libs.common.files import write_private
from libs.common.nats import ConsumerSpec, dead_letter_stream
from libs.common.settings import DEV_CREDENTIAL_PREFIX, CommonSettings
from services.intake.handlers import CONSUMERS as INTAKE
from services.progression.handlers import CONSUMERS as PROGRESSION
from services.settlement.handlers import CONSUMERS as SETTLEMENT

SERVICE_CONSUMERS: dict[str, Sequence[ConsumerSpec]] = {
    "intake": INTAKE,
    "progression": PROGRESSION,
    "settlement": SETTLEMENT,
}
INTEGRATOR = "integrator"
OPERATOR = "operator"
# The stream eraser's user and durable consumer (of participant.erased.v1), and the name of the
# ephemeral consumer it reads each stream with.
ERASER = "eraser"
ERASER_SCAN = "eraser-scan"
USERS = (*SERVICE_CONSUMERS, INTEGRATOR, OPERATOR, ERASER)
# JetStream API calls that change or empty a stream: the operator's alone.
STREAM_ADMIN = ("$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.UPDATE.>")


def erasure_watchers(
    service_consumers: Mapping[str, Sequence[ConsumerSpec]] | None = None,
) -> list[str]:
    """The services' durable consumers that take ``participant.erased.v1``: the eraser erases an
    erasure's messages only once each of them has acked past it (deploy/ops/erase_streams.py)."""
    consumers = SERVICE_CONSUMERS if service_consumers is None else service_consumers
    return sorted(
        spec.name
        for specs in consumers.values()
        for spec in specs
        if ParticipantErasedV1.event_type in spec.event_types
    )


def _consumer_api(stream: str, durable: str) -> list[str]:
    """Everything a durable pull consumer's owner needs: create (either API form), info, fetch, ack."""
    return [
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def permissions(
    settings: CommonSettings | None = None,
    service_consumers: Mapping[str, Sequence[ConsumerSpec]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each user's publish and subscribe permissions (the services' consumers: ``SERVICE_CONSUMERS``
    unless given)."""
    settings = settings or CommonSettings()
    consumers = SERVICE_CONSUMERS if service_consumers is None else service_consumers
    stream, dlq, prefix = settings.nats_stream, dead_letter_stream(settings), settings.subject_prefix
    service_durables = [spec.name for specs in consumers.values() for spec in specs]
    result: dict[str, dict[str, Any]] = {}
    for service, specs in consumers.items():
        allow = [
            f"{prefix}.{service}.>",
            f"{prefix}-dlq.{service}.>",
            "$JS.API.INFO",
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.INFO.{dlq}",
            f"$JS.API.STREAM.CREATE.{stream}",
            f"$JS.API.STREAM.CREATE.{dlq}",
            # The admin routes list and re-drive the service's dead letters.
            f"$JS.API.STREAM.MSG.GET.{dlq}",
            f"$JS.API.STREAM.MSG.DELETE.{dlq}",
        ]
        for spec in specs:
            allow += _consumer_api(stream, spec.name)
        result[service] = {
            "publish": {"allow": allow, "deny": list(STREAM_ADMIN)},
            "subscribe": {"allow": [f"_INBOX.{service}.>"]},
        }
    denied_to_integrators = [f"{prefix}.>", f"{prefix}-dlq.>", *STREAM_ADMIN]
    for durable in service_durables:
        denied_to_integrators += [
            *_consumer_api(stream, durable),
            f"$JS.API.CONSUMER.DELETE.{stream}.{durable}",
        ]
    result[INTEGRATOR] = {
        "publish": {
            "allow": [
                "$JS.API.INFO",
                f"$JS.API.STREAM.INFO.{stream}",
                f"$JS.API.STREAM.MSG.GET.{stream}",
                f"$JS.API.CONSUMER.CREATE.{stream}",
                f"$JS.API.CONSUMER.CREATE.{stream}.>",
                f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.*",
                f"$JS.API.CONSUMER.INFO.{stream}.*",
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
                f"$JS.API.CONSUMER.DELETE.{stream}.*",
                f"$JS.ACK.{stream}.>",
                # Flow control of a push consumer (an ordered consumer is one).
                f"$JS.FC.{stream}.>",
            ],
            "deny": denied_to_integrators,
        },
        # Live events straight off their subjects too (core NATS, no replay): reading is all it does.
        "subscribe": {"allow": [f"_INBOX.{INTEGRATOR}.>", f"{prefix}.>"]},
    }
    # The eraser: its durable on SIB, its scan consumer on SIB and SIB_DLQ, single-message deletes.
    # Ack (and in-progress) replies of its durable only; the scan consumer takes no acks.
    eraser_allow = [f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.INFO.{dlq}"]
    eraser_allow += _consumer_api(stream, ERASER)
    for scanned in (stream, dlq):
        eraser_allow += [
            f"$JS.API.CONSUMER.CREATE.{scanned}.{ERASER_SCAN}",
            f"$JS.API.CONSUMER.INFO.{scanned}.{ERASER_SCAN}",
            f"$JS.API.CONSUMER.MSG.NEXT.{scanned}.{ERASER_SCAN}",
            f"$JS.API.CONSUMER.DELETE.{scanned}.{ERASER_SCAN}",
            f"$JS.API.STREAM.MSG.DELETE.{scanned}",
        ]
    # How far the services' consumers of the erasure events have acked: read, not changed.
    eraser_allow += [f"$JS.API.CONSUMER.INFO.{stream}.{durable}" for durable in erasure_watchers(consumers)]
    result[ERASER] = {
        "publish": {"allow": eraser_allow, "deny": [f"{prefix}.>", f"{prefix}-dlq.>", *STREAM_ADMIN]},
        "subscribe": {"allow": [f"_INBOX.{ERASER}.>"]},
    }
    result[OPERATOR] = {
        "publish": {"allow": ["$JS.API.>", "$JS.ACK.>"], "deny": [f"{prefix}.>", f"{prefix}-dlq.>"]},
        "subscribe": {"allow": [f"_INBOX.{OPERATOR}.>", f"{prefix}.>", f"{prefix}-dlq.>"]},
    }
    return result


@dataclass(frozen=True)
class Tls:
    """The server's certificate, and a CA to verify clients' certificates by when they must have one."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    verify_clients: bool = False


# What a test of the messaging machinery itself needs for its made-up service (its own streams and
# consumers): everything. Only the tests' servers have such a user.
UNRESTRICTED: dict[str, Any] = {
    "publish": {"allow": [">"]},
    "subscribe": {"allow": [">"]},
}


def server_config(
    passwords: Mapping[str, str],
    tls: Tls | None = None,
    settings: CommonSettings | None = None,
    extra_users: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The authorization (and TLS) part of a nats-server configuration; host, port and JetStream's
    directory come from the command line. Every user needs a password; there is no anonymous user."""
    rights = permissions(settings) | dict(extra_users or {})
    missing = set(rights) - set(passwords)
    if missing:
        raise ValueError(f"no NATS password for {', '.join(sorted(missing))}")
    config: dict[str, Any] = {
        "authorization": {
            "users": [
                {"user": user, "password": passwords[user], "permissions": rights[user]} for user in rights
            ]
        }
    }
    if tls is not None:
        block: dict[str, Any] = {"cert_file": str(tls.cert_file), "key_file": str(tls.key_file)}
        if tls.ca_file is not None:
            block["ca_file"] = str(tls.ca_file)
        if tls.verify_clients:
            block["verify"] = True
        config["tls"] = block
    return config


def write_server_config(
    path: Path,
    passwords: Mapping[str, str],
    tls: Tls | None = None,
    settings: CommonSettings | None = None,
    extra_users: Mapping[str, dict[str, Any]] | None = None,
) -> Path:
    """nats-server reads JSON as its configuration format; the file holds passwords, so 0600."""
    write_private(path, json.dumps(server_config(passwords, tls, settings, extra_users), indent=2).encode())
    return path


def development_passwords(path: Path) -> dict[str, str]:
    """Generated passwords for every user, kept in ``path`` (0600) so that a restart and the operator
    commands find them. Marked as development credentials, which production refuses."""
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {user: known.get(user) or DEV_CREDENTIAL_PREFIX + secrets.token_urlsafe(24) for user in USERS}
    if wanted != known:
        write_private(path, json.dumps(wanted, indent=2).encode())
    return wanted


def passwords_from_environment() -> dict[str, str]:
    """Each user's password from ``<USER>_NATS_PASSWORD``; every one must be set."""
    found = {user: os.environ.get(f"{user.upper()}_NATS_PASSWORD", "") for user in USERS}
    missing = [f"{user.upper()}_NATS_PASSWORD" for user, password in found.items() if not password]
    if missing:
        raise SystemExit(f"not set: {', '.join(missing)}")
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="the nats-server configuration to write")
    parser.add_argument(
        "--passwords",
        type=Path,
        default=None,
        help="JSON of user -> password (default: generated beside --out)",
    )
    parser.add_argument("--passwords-from-env", action="store_true", help="<USER>_NATS_PASSWORD per user")
    parser.add_argument("--tls-cert", type=Path, help="the server's certificate (PEM): TLS on")
    parser.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    parser.add_argument("--tls-ca", type=Path, help="CA that client certificates are verified against")
    parser.add_argument("--verify-clients", action="store_true", help="require client certificates")
    args = parser.parse_args(argv)
    if args.passwords_from_env:
        passwords = passwords_from_environment()
    else:
        passwords = development_passwords(args.passwords or args.out.with_suffix(".passwords.json"))
    tls = None
    if args.tls_cert is not None:
        if args.tls_key is None:
            parser.error("--tls-cert needs --tls-key")
        tls = Tls(args.tls_cert, args.tls_key, args.tls_ca, args.verify_clients)
    write_server_config(args.out, passwords, tls)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
