"""The NATS client the services connect with: nats-py's, with its header parser replaced by one that
gives the same answer for every input without looking at each character of each header name (every
consumed event carries ``Nats-Msg-Id`` and ``traceparent``; docs/performance.md#the-catch-up-loss-mended).
``tests/unit/test_nats_headers.py`` holds the two parsers equal."""

from __future__ import annotations

from nats.aio.client import Client

_CRLF = b"\r\n"


class SibNatsClient(Client):
    """nats-py's client with a faster ``_parse_header_lines``; everything else is nats-py's own."""

    @staticmethod
    def _parse_header_lines(raw: bytes) -> dict[str, str]:
        """``Name: Value`` per line, as nats-py 2.16 parses it: lines without a colon and names that are
        not ASCII or hold whitespace inside are skipped, values are stripped and decoded as UTF-8 with
        replacement."""
        out: dict[str, str] = {}
        for line in raw.split(_CRLF):
            name, sep, value = line.partition(b":")
            if not sep:
                continue  # an empty line, or no colon
            try:
                key = name.strip().decode("ascii")
            except UnicodeDecodeError:
                continue
            # str.split() splits on exactly the characters str.isspace() accepts: a name equal to its
            # only part holds none of them.
            if key and key.split() != [key]:
                continue
            out[key] = value.strip().decode("utf-8", "replace")
        return out
