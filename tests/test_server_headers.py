"""The pywsgi handler's header parser reads every block as http.client's email parser did."""

from __future__ import annotations

import io
from http.client import HTTPException
from http.client import parse_headers as email_parse

import pytest
from gevent.pywsgi import OldMessage

from notifier.server_headers import parse_headers

BLOCKS = [
    b"Host: a\r\n\r\n",
    b"Host: example.com\r\nAuthorization: Bearer ntf_x\r\nAccept: */*\r\n\r\nBODY",
    b"X-A:  padded  \r\nX-B:\tt\r\nx-a: second\r\n\r\n",
    b"Empty:\r\nColon: a:b:c\r\n\n",
    b"LF-only: yes\nOther: 1\n\n",
    b"Folded: one\r\n two\r\n\tthree\r\nAfter: x\r\n\r\n",
    b"No colon here\r\nHost: a\r\n\r\n",
    b": no name\r\nHost: a\r\n\r\n",
    b"Bare: c\rr\r\nHost: a\r\n\r\n",
    b"Latin: caf\xe9\r\n\r\n",
    b"Host: a\r\nTruncated: at eof",
    b"Bad Name: x\r\nHost: a\r\n\r\n",
    b"\r\n",
    b"",
]


def _view(msg: OldMessage) -> tuple[object, ...]:
    """Return everything pywsgi reads of a parsed block."""
    return (
        msg.status,
        list(msg.items()),
        list(msg.headers),
        msg.get("host"),
        msg.typeheader,
        msg.getheader("content-length"),
    )


@pytest.mark.parametrize("block", BLOCKS)
def test_same_headers_as_the_email_parser(block: bytes) -> None:
    """Plain blocks take the fast path, odd ones the email parser: pywsgi sees no difference."""
    fast, slow = io.BytesIO(block), io.BytesIO(block)
    expected = email_parse(slow, _class=OldMessage)
    expected.status = ""
    assert _view(parse_headers(fast)) == _view(expected)
    assert fast.tell() == slow.tell()  # the body is left where it was


def test_limits_are_http_clients() -> None:
    """A line over 65,536 bytes answers "Line too long"; a 101st line raises, as before."""
    too_long = io.BytesIO(b"X: " + b"a" * 70000 + b"\r\n\r\n")
    assert parse_headers(too_long).status == "Line too long"
    with pytest.raises(HTTPException):
        parse_headers(io.BytesIO(b"X: 1\r\n" * 101 + b"\r\n"))
