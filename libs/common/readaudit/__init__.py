"""The read audit: an append-only, hash-chained row per read of person-level data, in each service's
own database (``chain``: the hashes; ``store``: the tables and what is done with them; ``api``: the
recorder routes call and ``GET /v1/audit/reads``; ``migration``: the tables as migrations make them)."""

from libs.common.readaudit.chain import GENESIS, Break, ChainRow, first_break, participant_digest, row_hash
from libs.common.readaudit.store import (
    TABLES,
    ReadAuditRow,
    ReadAuditTables,
    ReadEntry,
    Verification,
    append,
    page,
    read_audit_tables,
    redact_participant,
    verify,
)

__all__ = [
    "GENESIS",
    "TABLES",
    "Break",
    "ChainRow",
    "ReadAuditRow",
    "ReadAuditTables",
    "ReadEntry",
    "Verification",
    "append",
    "first_break",
    "page",
    "participant_digest",
    "read_audit_tables",
    "redact_participant",
    "row_hash",
    "verify",
]
