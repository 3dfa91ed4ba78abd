"""Random (version 4) UUIDs as strings, drawn from a pool of ``os.urandom`` bytes.

``uuid.uuid4()`` makes a system call for every id; a batch of 10,000 status records needs 20,000 ids
(a record's and its event's), and on this platform the call was the largest single cost of making them.
The pool keeps the same source of randomness and fetches it 4 KiB (256 ids) at a time.
"""

from __future__ import annotations

import os
import threading

_POOL_BYTES = 4096
_lock = threading.Lock()
_pool = b""
_offset = _POOL_BYTES


def uuid4_str() -> str:
    global _pool, _offset
    with _lock:
        if _offset + 16 > len(_pool):
            _pool, _offset = os.urandom(_POOL_BYTES), 0
        raw = bytearray(_pool[_offset : _offset + 16])
        _offset += 16
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
