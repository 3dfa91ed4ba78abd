"""A programme's terms versions and data cut-off, as the month computations take them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from libs.common.contracts import ProgrammeTerms
from libs.common.uow import UnitOfWork
from services.settlement.domain import TermsVersion
from services.settlement.repository import FactsRepository, TermsRepository


async def terms_versions(uow: UnitOfWork, programme_id: str) -> list[TermsVersion]:
    rows = await TermsRepository(uow.session).versions(programme_id)
    return [TermsVersion(r.version, r.effective_from, ProgrammeTerms.model_validate(r.terms)) for r in rows]


class ProgrammeFacts(NamedTuple):
    cutoff: date | None  # complete_through of the cut-off in force; None: no data is complete yet
    versions: list[TermsVersion]


@dataclass
class ProgrammeFactsCache:
    """Each programme's cut-off and terms read once per transaction: a batch recomputes many
    participants of one programme, and neither changes while it does (but see ``forget``)."""

    _by_programme: dict[str, ProgrammeFacts] = field(default_factory=dict)

    async def get(self, uow: UnitOfWork, programme_id: str) -> ProgrammeFacts:
        found = self._by_programme.get(programme_id)
        if found is None:
            cutoff = await FactsRepository(uow.session).cutoff(programme_id)
            found = self._by_programme[programme_id] = ProgrammeFacts(
                cutoff.complete_through if cutoff else None, await terms_versions(uow, programme_id)
            )
        return found

    def forget(self, programme_id: str) -> None:
        """A cut-off or terms version of the programme was stored in this transaction: read them again
        (a batch holding a terms version and then a cut-off recomputed the programme with the old
        cut-off)."""
        self._by_programme.pop(programme_id, None)
