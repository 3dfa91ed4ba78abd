"""What open disputes hold back from payment, per creditor."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

ZERO = Decimal("0.00")


async def held_by_creditor(session: AsyncSession, programme_id: str) -> dict[str, Decimal]:
    """The amount open disputes hold, per creditor ("provider", "investor"), in DKK."""
    # TODO(disputes merge): sum the held amounts of the programme's open disputes per creditor from the
    # disputes helper's tables; until that branch is merged, nothing is held.
    return {"provider": ZERO, "investor": ZERO}
