"""``verify-audit``: walk a service's read audit and check its hash chain."""

from __future__ import annotations

from deploy.ops.services import ServiceOps
from libs.common.db import Database
from libs.common.readaudit import verify


async def cmd_verify_audit(ops: ServiceOps) -> int:
    """Prints the rows checked and ``intact``, or the first broken row's seq and why (exit status 1)."""
    database = Database(ops.settings_class())
    try:
        result = await verify(database)
    finally:
        await database.dispose()
    if result.broken is None:
        print(f"{ops.name} read audit: {result.checked} rows checked, intact")
        return 0
    print(
        f"{ops.name} read audit: {result.checked} rows checked, broken at seq {result.broken.seq}: "
        f"{result.broken.reason}"
    )
    return 1
