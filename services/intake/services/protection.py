"""What protects CPR numbers at rest and in lookups: the cipher and the pseudonym key, and the audit
trail that every read or write of a CPR number leaves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.cpr import Cpr, CprCipher, cpr_pseudonym, keyed_fingerprint
from libs.common.errors import Conflict
from libs.common.logging import get_correlation_id, get_logger
from libs.common.uow import UnitOfWork
from services.intake.models import CprAuditRow, ParticipantRow
from services.intake.repository import AuditRepository
from services.intake.settings import IntakeSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class CprProtection:
    cipher: CprCipher
    pseudonym_key: bytes
    previous_pseudonym_keys: tuple[bytes, ...] = ()

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> CprProtection:
        return cls(
            cipher=CprCipher.from_base64(
                settings.cpr_encryption_key.get_secret_value(),
                [key.get_secret_value() for key in settings.cpr_previous_encryption_keys],
            ),
            pseudonym_key=settings.cpr_hmac_key.get_secret_value().encode(),
            previous_pseudonym_keys=tuple(
                key.get_secret_value().encode() for key in settings.cpr_previous_hmac_keys
            ),
        )

    def pseudonym(self, cpr: Cpr) -> str:
        return cpr_pseudonym(cpr, self.pseudonym_key)

    def pseudonyms(self, cpr: Cpr) -> list[str]:
        """The pseudonym under the current key, then under each previous one: what a lookup matches
        while a rotation of the pseudonym key is under way."""
        return [cpr_pseudonym(cpr, key) for key in (self.pseudonym_key, *self.previous_pseudonym_keys)]

    def fingerprints(self, body: dict[str, Any]) -> list[str]:
        """The body's fingerprint under every configured key: a retry recorded before the pseudonym key
        changed is still recognised."""
        return [keyed_fingerprint(key, body) for key in (self.pseudonym_key, *self.previous_pseudonym_keys)]


@dataclass(frozen=True)
class Caller:
    """Who is asking and through which endpoint: what the CPR audit records."""

    principal: Principal
    endpoint: str


def audit(
    uow: UnitOfWork, caller: Caller, action: str, participant_id: str | None, detail: str | None = None
) -> None:
    values = _audit_values(caller, action, participant_id)
    AuditRepository(uow.session).add(CprAuditRow(**values, detail=detail))


async def audit_many(
    uow: UnitOfWork, caller: Caller, action: str, participant_ids: Iterable[str | None]
) -> None:
    """One audit row per entry of ``participant_ids``, inserted in one statement."""
    await AuditRepository(uow.session).insert_many(
        [_audit_values(caller, action, participant_id) for participant_id in participant_ids]
    )


def _audit_values(caller: Caller, action: str, participant_id: str | None) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "actor": caller.principal.subject,
        "role": caller.principal.role.value,
        "action": action,
        "endpoint": caller.endpoint,
        "participant_id": participant_id,
        "correlation_id": get_correlation_id(),
    }


def reveal(
    uow: UnitOfWork, protection: CprProtection, caller: Caller, row: ParticipantRow, action: str = "read"
) -> Cpr:
    """Decrypt a participant's CPR for a response, leaving an audit row (``action``) in the same
    transaction. A
    token that does not decrypt for this row (altered, or copied from another participant's row) is a
    409 for the caller and an error in the log, never another citizen's number."""
    audit(uow, caller, action, row.participant_id)
    try:
        return protection.cipher.decrypt(row.cpr_encrypted, row.participant_id)
    except ValueError as exc:  # the message says what is wrong with the token, nothing of the number
        log.error("cpr_token_refused", participant_id=row.participant_id, reason=str(exc))
        raise Conflict(
            "The stored CPR number of this participant cannot be decrypted; the operators have been told.",
            participant_id=row.participant_id,
        ) from None
