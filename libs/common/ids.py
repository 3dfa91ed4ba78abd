"""Ids as UUID strings, made by ``uuid-utils`` (Rust's ``uuid`` crate, its generator seeded from the
operating system).

- ``uuid4_str``: random (version 4), for ids that should say nothing of when they were made
  (participants, statements).
- ``uuid7_str``: time-ordered (version 7, RFC 9562: a millisecond timestamp, then a counter and random
  bits, rising within the process), for ids that are keys of fast-growing tables: event ids (the
  outbox's unique index, every consumer's inbox key) and status record ids (progression's primary key,
  settlement's facts). A random key lands on a random page of its B-tree index, so a batch's inserts
  dirty most of an index's pages and the commit writes them all again; rising keys fill the last pages
  only (figures: docs/performance.md#second-session-2026-12-02). ``uuid.uuid4()`` was also a system call
  per id.
"""

from __future__ import annotations

import re
from typing import Annotated

import uuid_utils
from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from libs.common.cpr import refuse_cpr_shape

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def canonical_uuid(value: str) -> str:
    """A UUID in its canonical form (lower case, hyphenated), as the platform makes them; anything
    else is refused without being echoed, so a client's text never reaches a query or another
    service's URL unparsed."""
    if not _UUID.match(value):
        raise ValueError("must be a UUID such as 3f2b8c1e-9d4a-4c6b-8e2f-1a2b3c4d5e6f")
    return value.lower()


# A client's own id or key (source record id, Idempotency-Key): anything but a CPR-shaped number.
NoCpr = Annotated[str, AfterValidator(refuse_cpr_shape)]


# Free text a person writes (a dispute's text, a rejection's reason, a bank reference): trimmed before
# its length is checked (a use site's Field(max_length) joins the same string check), refused when
# blank or when it holds a CPR-shaped number (never echoed).
WrittenText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    AfterValidator(refuse_cpr_shape),
]

# An id that must be a UUID, at the edge of the API: a path, query or body field.
Uuid = Annotated[
    str,
    AfterValidator(canonical_uuid),
    WithJsonSchema({"type": "string", "format": "uuid"}),
]


def uuid4_str() -> str:
    return str(uuid_utils.uuid4())


def uuid7_str() -> str:
    return str(uuid_utils.uuid7())
