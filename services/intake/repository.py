"""Intake's queries: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clock import as_utc
from libs.common.contracts import ProgrammeTerms
from services.intake.domain import Programme, TermsVersion
from services.intake.models import ProgrammeRow, ProgrammeTermsRow


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str) -> Programme | None:
        row = await self.session.get(ProgrammeRow, programme_id)
        if row is None:
            return None
        versions = (
            await self.session.scalars(
                select(ProgrammeTermsRow)
                .where(ProgrammeTermsRow.programme_id == programme_id)
                .order_by(ProgrammeTermsRow.version)
            )
        ).all()
        return _to_domain(row, versions)

    async def list(self, programme_ids: Iterable[str] | None = None) -> list[Programme]:
        query = select(ProgrammeRow).order_by(ProgrammeRow.programme_id)
        if programme_ids is not None:
            query = query.where(ProgrammeRow.programme_id.in_(list(programme_ids)))
        rows = (await self.session.scalars(query)).all()
        terms_query = select(ProgrammeTermsRow).where(
            ProgrammeTermsRow.programme_id.in_([row.programme_id for row in rows])
        )
        by_programme: dict[str, list[ProgrammeTermsRow]] = {}
        for terms_row in (await self.session.scalars(terms_query)).all():
            by_programme.setdefault(terms_row.programme_id, []).append(terms_row)
        return [_to_domain(row, by_programme.get(row.programme_id, [])) for row in rows]

    def add(self, row: ProgrammeRow) -> None:
        self.session.add(row)

    def add_terms(self, row: ProgrammeTermsRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()


def _to_domain(row: ProgrammeRow, versions: Iterable[ProgrammeTermsRow]) -> Programme:
    return Programme(
        programme_id=row.programme_id,
        name=row.name,
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
