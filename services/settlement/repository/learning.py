"""Queries of the learning track and the measurement copies: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.settlement.models import MeasurementCopyRow, MunicipalSpendingRow


class SpendingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str, year: int) -> MunicipalSpendingRow | None:
        return await self.session.get(MunicipalSpendingRow, (programme_id, year))

    async def of_programme(self, programme_id: str) -> Sequence[MunicipalSpendingRow]:
        query = (
            select(MunicipalSpendingRow)
            .where(MunicipalSpendingRow.programme_id == programme_id)
            .order_by(MunicipalSpendingRow.year)
        )
        return (await self.session.scalars(query)).all()

    def add(self, row: MunicipalSpendingRow) -> None:
        self.session.add(row)


class MeasurementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, measurement_id: str) -> MeasurementCopyRow | None:
        return await self.session.get(MeasurementCopyRow, measurement_id)

    async def of_programme(self, programme_id: str) -> Sequence[MeasurementCopyRow]:
        query = select(MeasurementCopyRow).where(MeasurementCopyRow.programme_id == programme_id)
        return (await self.session.scalars(query)).all()

    async def of_participant(self, programme_id: str, participant_id: str) -> Sequence[MeasurementCopyRow]:
        # Through the programme's index: no index leads from a participant to its copies.
        query = select(MeasurementCopyRow).where(
            MeasurementCopyRow.programme_id == programme_id,
            MeasurementCopyRow.participant_id == participant_id,
        )
        return (await self.session.scalars(query.order_by(MeasurementCopyRow.measured_on))).all()

    def add(self, row: MeasurementCopyRow) -> None:
        self.session.add(row)
