"""The services' NATS client parses message headers as nats-py does, for every input."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from libs.common.nats.client import SibNatsClient

# Bytes that matter to the parser: separators, ASCII and Unicode whitespace, non-ASCII and invalid UTF-8.
PIECES = st.sampled_from(
    [b"\r\n", b":", b" ", b"\t", b"\x0b", b"\x0c", b"\x1c", b"\x1f", b"\x85", b"\xa0", b"\xc3\xa6", b"\xff",
     b"Nats-Msg-Id", b"traceparent", b"00-abc-01", b"a", b"B", b"-", b"\r", b"\n"]
)  # fmt: skip
RAW = st.lists(st.one_of(PIECES, st.binary(max_size=4)), max_size=30).map(b"".join)


@given(RAW)
@settings(max_examples=3000)
@example(b"Nats-Msg-Id: 1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n")
@example(b"na me: v\r\n: empty name\r\n\x1cx: y\r\nno colon\r\n\xff: bad\r\nk:\xff\r\n")
def test_the_services_client_parses_headers_exactly_as_nats_py_does(raw: bytes) -> None:
    assert SibNatsClient._parse_header_lines(raw) == Client._parse_header_lines(raw)
