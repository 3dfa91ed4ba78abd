"""Key rotation: every stored CPR re-encrypted under the current key and every pseudonym recomputed
under the current HMAC key, in batches that each commit, so a run can stop anywhere and run again."""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.intake.repository import ParticipantRepository
from services.intake.services.protection import Caller, CprProtection, audit

log = get_logger(__name__)

BATCH_SIZE = 500


@dataclass(frozen=True)
class RotationReport:
    """What a run did. ``next_after`` is None when it reached the last row; otherwise the id to resume
    after. ``unreadable`` rows decrypt under no configured key: while any is left, keep the old keys."""

    scanned: int
    reencrypted: int
    repseudonymised: int
    unreadable: int
    batches: int
    next_after: str | None


async def rotate_keys(
    database: Database,
    protection: CprProtection,
    caller: Caller,
    *,
    after: str = "",
    max_batches: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> RotationReport:
    """Re-encrypt and re-pseudonymise the participants after ``after`` (by id), ``batch_size`` rows per
    transaction, stopping after ``max_batches`` batches if given. A row already under the current keys
    is left as it is, so running again changes nothing; each batch that changed rows leaves an audit
    row with its counts, and the run one with its totals."""
    scanned = reencrypted = repseudonymised = unreadable = batches = 0
    cursor: str | None = after
    while cursor is not None and (max_batches is None or batches < max_batches):
        async with UnitOfWork(database) as uow:
            rows = await ParticipantRepository(uow.session).batch_after(cursor, batch_size)
            changed_token = changed_pseudonym = 0
            for row in rows:
                try:
                    cpr = protection.cipher.decrypt(row.cpr_encrypted, row.participant_id)
                except ValueError as exc:  # the message names what is wrong with the token, not the number
                    unreadable += 1
                    log.error("cpr_token_not_rotated", participant_id=row.participant_id, reason=str(exc))
                    continue
                if protection.cipher.needs_rotation(row.cpr_encrypted):
                    row.cpr_encrypted = protection.cipher.encrypt(cpr, row.participant_id)
                    changed_token += 1
                pseudonym = protection.pseudonym(cpr)
                if row.cpr_pseudonym != pseudonym:
                    row.cpr_pseudonym = pseudonym
                    changed_pseudonym += 1
            if changed_token or changed_pseudonym:
                audit(uow, caller, "rotate", None, _counts(len(rows), changed_token, changed_pseudonym))
            await uow.commit()
        batches += 1
        scanned += len(rows)
        reencrypted += changed_token
        repseudonymised += changed_pseudonym
        cursor = rows[-1].participant_id if len(rows) == batch_size else None
    report = RotationReport(scanned, reencrypted, repseudonymised, unreadable, batches, cursor)
    async with UnitOfWork(database) as uow:
        done = "done" if cursor is None else "paused"
        audit(
            uow,
            caller,
            "rotate",
            None,
            f"{done} {_counts(scanned, reencrypted, repseudonymised)} unreadable={unreadable}",
        )
        await uow.commit()
    log.info(
        "cpr_keys_rotated",
        scanned=scanned,
        reencrypted=reencrypted,
        repseudonymised=repseudonymised,
        unreadable=unreadable,
        batches=batches,
        complete=cursor is None,
    )
    return report


def _counts(scanned: int, reencrypted: int, repseudonymised: int) -> str:
    return f"scanned={scanned} reencrypted={reencrypted} repseudonymised={repseudonymised}"
