"""``python -m services.intake.rotate_keys`` (``make rotate-keys``): re-encrypt every stored CPR and
recompute every pseudonym under the current keys, settings from the environment. Safe to stop and run
again; exits 1 while some row decrypts under no configured key (then keep the old keys)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from libs.common.auth import Principal, Role
from libs.common.db import Database
from libs.common.logging import configure_logging
from services.intake.services.keys import BATCH_SIZE, rotate_keys
from services.intake.services.protection import Caller, CprProtection
from services.intake.settings import IntakeSettings

OPERATOR = Caller(Principal("operator", Role.admin, frozenset({"*"})), "make rotate-keys")


async def run(settings: IntakeSettings, after: str, batch_size: int) -> int:
    database = Database(settings)
    try:
        report = await rotate_keys(
            database, CprProtection.from_settings(settings), OPERATOR, after=after, batch_size=batch_size
        )
    finally:
        await database.dispose()
    print(json.dumps(asdict(report)))
    return 1 if report.unreadable else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.intake.rotate_keys", description=__doc__)
    parser.add_argument("--after", default="", help="resume after this participant id")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    args = parser.parse_args(argv)
    settings = IntakeSettings()
    configure_logging("intake-rotate-keys", settings.log_level)
    return asyncio.run(run(settings, args.after, args.batch_size))


if __name__ == "__main__":
    sys.exit(main())
