"""``python -m deploy.ops``: the operator commands (the package's docstring says what each does)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import deploy.ops
from deploy.ops.audit import cmd_verify_audit
from deploy.ops.deadletters import cmd_dead_letters, cmd_redrive
from deploy.ops.erase_streams import cmd_erase_streams, eraser_settings
from deploy.ops.rebuild import cmd_rebuild
from deploy.ops.services import service_ops
from libs.common.logging import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.ops",
        description=deploy.ops.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("dead-letters", help="list a service's dead letters")
    listing.add_argument("service")
    listing.add_argument("--consumer")
    again = commands.add_parser("redrive", help="apply dead letters again")
    again.add_argument("service")
    again.add_argument("--id", type=int, action="append", default=[], help="only this letter (repeatable)")
    again.add_argument("--consumer")
    build = commands.add_parser("rebuild", help="replay the stream into an empty database and compare")
    build.add_argument("service")
    build.add_argument(
        "--replace", action="store_true", help="swap the rebuilt database in (service stopped)"
    )
    erase = commands.add_parser(
        "erase-streams", help="delete erased participants' messages from the stream and dead letters"
    )
    when = erase.add_mutually_exclusive_group(required=True)
    when.add_argument("--once", action="store_true", help="the erasures pending now, then exit")
    when.add_argument(
        "--every", type=float, metavar="SECONDS", help="keep running, looking at least this often"
    )
    audit = commands.add_parser("verify-audit", help="check a service's read audit chain")
    audit.add_argument("--service", required=True)
    args = parser.parse_args(argv)
    if args.command == "erase-streams":
        if args.every is not None and args.every <= 0:
            parser.error("--every needs a positive number of seconds")
        settings = eraser_settings()
        configure_logging("eraser", settings.log_level)
        return asyncio.run(cmd_erase_streams(settings, args.every))
    ops = service_ops(args.service)
    configure_logging(f"{ops.name}-ops", "WARNING")
    if args.command == "dead-letters":
        return asyncio.run(cmd_dead_letters(ops, args.consumer))
    if args.command == "verify-audit":
        return asyncio.run(cmd_verify_audit(ops))
    if args.command == "redrive":
        return asyncio.run(cmd_redrive(ops, args.id, args.consumer))
    return asyncio.run(cmd_rebuild(ops, args.replace))


if __name__ == "__main__":
    sys.exit(main())
