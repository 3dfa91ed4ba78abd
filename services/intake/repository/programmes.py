"""Intake's queries about programmes, their terms and their parties: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clock import as_utc
from libs.common.contracts import ProgrammeParties, ProgrammeTerms
from services.intake.domain import (
    PartiesVersion,
    Programme,
    TermsVersion,
)
from services.intake.models import (
    ProgrammePartiesRow,
    ProgrammeRow,
    ProgrammeTermsRow,
)


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str, *, for_update: bool = False) -> Programme | None:
        query = select(ProgrammeRow).where(ProgrammeRow.programme_id == programme_id)
        if for_update:
            # Serialises enrolments into one programme (PostgreSQL row lock; SQLite transactions
            # are already serial under BEGIN IMMEDIATE).
            query = query.with_for_update()
        row = (await self.session.scalars(query)).one_or_none()
        if row is None:
            return None
        versions = (
            await self.session.scalars(
                select(ProgrammeTermsRow)
                .where(ProgrammeTermsRow.programme_id == programme_id)
                .order_by(ProgrammeTermsRow.version)
            )
        ).all()
        return _programme(row, versions)

    async def list(self) -> list[Programme]:
        rows = (await self.session.scalars(select(ProgrammeRow).order_by(ProgrammeRow.programme_id))).all()
        by_programme: dict[str, list[ProgrammeTermsRow]] = {}
        for terms_row in (await self.session.scalars(select(ProgrammeTermsRow))).all():
            by_programme.setdefault(terms_row.programme_id, []).append(terms_row)
        return [_programme(row, by_programme.get(row.programme_id, [])) for row in rows]

    def add(self, row: ProgrammeRow | ProgrammeTermsRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()


def _programme(row: ProgrammeRow, versions: Iterable[ProgrammeTermsRow]) -> Programme:
    return Programme(
        programme_id=row.programme_id,
        name=row.name,
        invoiced_through=row.invoiced_through,
        versions=tuple(
            TermsVersion(
                version=v.version,
                effective_from=v.effective_from,
                published_at=as_utc(v.published_at),
                terms=ProgrammeTerms.model_validate(v.terms),
            )
            for v in sorted(versions, key=lambda v: v.version)
        ),
    )


class PartiesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def versions(self, programme_id: str) -> list[PartiesVersion]:
        """Every published version of the programme's parties, oldest first."""
        query = (
            select(ProgrammePartiesRow)
            .where(ProgrammePartiesRow.programme_id == programme_id)
            .order_by(ProgrammePartiesRow.version)
        )
        return [
            PartiesVersion(
                version=row.version,
                effective_from=row.effective_from,
                published_at=as_utc(row.published_at),
                recorded_by=row.recorded_by,
                parties=ProgrammeParties.model_validate(row.parties),
            )
            for row in (await self.session.scalars(query)).all()
        ]

    def add(self, row: ProgrammePartiesRow) -> None:
        self.session.add(row)
