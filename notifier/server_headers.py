"""Read a request's header block for pywsgi without the email parser (its fast path).

pywsgi hands the block to http.client.parse_headers, whose email FeedParser was 8 % of a
bearer GET (py-spy); the server's handler (notifier/server_handler.py) calls this instead.
"""

from __future__ import annotations

import email.parser
import re
from http.client import _MAXHEADERS, _MAXLINE, HTTPException  # type: ignore[attr-defined]
from typing import Any

from gevent.pywsgi import OldMessage

# A header line the email parser would read as exactly ``name: value`` (a name of visible
# characters but ":", no folding, no bare CR): the fast path of parse_headers.
_PLAIN_HEADER = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n")


def parse_headers(fp: Any) -> OldMessage:
    """Read a request's header block as pywsgi's headers_factory does, without email.parser.

    pywsgi hands the block to http.client.parse_headers, whose email FeedParser was 8 % of
    a bearer GET (py-spy). Same limits and errors (65,536 bytes a line, 100 lines); a block
    of plain ``name: value`` lines is stored as the parser stores it (compat32: the value
    after the first colon, leading blanks and the line end cut); anything else (folded lines,
    a line without a colon, EOF before the blank line) still goes through email.parser.
    """
    lines: list[bytes] = []
    while True:
        line = fp.readline(_MAXLINE + 1)
        if len(line) > _MAXLINE:
            msg = OldMessage()
            msg.status = "Line too long"  # what pywsgi's headers_factory answers
            return msg
        lines.append(line)
        if len(lines) > _MAXHEADERS:
            raise HTTPException(f"got more than {_MAXHEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    if line and all(_PLAIN_HEADER.fullmatch(x) for x in lines[:-1]):
        msg = OldMessage()
        for x in lines[:-1]:
            name, _, value = x.decode("iso-8859-1").partition(":")
            msg.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
        return msg
    text = b"".join(lines).decode("iso-8859-1")
    parsed: OldMessage = email.parser.Parser(_class=OldMessage).parsestr(text)
    return parsed
