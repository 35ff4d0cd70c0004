"""The pywsgi request handler of `python app.py`: token-free logs and bounded client waits.

gunicorn bounds these itself (its gevent worker wraps request parsing in a keep-alive timeout);
gevent's pywsgi waits forever for a request line, for headers and for the next keep-alive
request, so an idle or slow socket would hold a file descriptor until the process runs out.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from typing import Any

import gevent
from gevent.pywsgi import Input, OldMessage, WSGIHandler

from notifier.logs import ENVIRON_KEY
from notifier.server_headers import parse_headers
from notifier.stream import drain

# What pywsgi discards of a body the application did not read before the connection is given up
# (a client may keep sending a chunked body forever; reading it all would hold the greenlet).
DISCARD_LIMIT = 1024 * 1024

# The protocol at the end of a request line; everything between the first "?" and it is query,
# spaces included (a target with an unencoded space splits into more than three words).
_VERSION_TAIL = re.compile(r"\s+HTTP/\S*\s*$")
# Any other query string inside a log message: up to whitespace or the quote of a repr().
_QUERY = re.compile(r"\?[^\s'\"]*")

access_log = logging.getLogger("notifier.access")
error_log = logging.getLogger("notifier.server")


_stamp: tuple[int, str] = (-1, "")  # (second, pywsgi's "YYYY-MM-DD HH:MM:SS" local time)


def _now() -> str:
    """Return the local time to the second as pywsgi's access line shows it, once a second."""
    global _stamp
    now = time.time()
    second = int(now)
    if _stamp[0] != second:
        _stamp = (second, str(datetime.fromtimestamp(second)))
    return _stamp[1]


def redact_requestline(line: str) -> str:
    """Return ``line`` with its query string replaced by ``?…`` (stream tokens travel in it)."""
    if "?" not in line:
        return line
    head, _, rest = line.partition("?")
    tail = _VERSION_TAIL.search(rest)
    return f"{head}?…{tail.group(0) if tail else ''}"


class ClientTooSlow(BaseException):  # noqa: N818 - an interruption like GreenletExit, not an error
    """Raised into a handler whose client did not send a request (line and headers) in time.

    A BaseException so that pywsgi's ``except Exception`` around header parsing (which answers
    400 and logs) lets it through to :meth:`QuietHandler.handle_one_request`, which closes quietly.
    """


class BoundedInput(Input):
    """pywsgi's request body that discards at most DISCARD_LIMIT unread bytes after a response."""

    __slots__ = ("abandoned",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.abandoned = False  # True: unread body left behind, the connection must close

    def _discard(self) -> None:
        """Read and drop what the application left of the body, up to DISCARD_LIMIT."""
        if getattr(self, "_chunked_input_error", False):  # set by gevent on a bad chunk
            return
        if self.position < (self.content_length or 0) or self.chunked_input:
            self.send_100_continue_enabled = False  # the application did not want the body
            left = DISCARD_LIMIT
            while left > 0:
                data = self.read(min(16384, left))
                if not data:
                    return
                left -= len(data)
            self.abandoned = True


class QuietHandler(WSGIHandler):
    """Log requests without query strings and bound how long a client may keep us waiting.

    - The request line and headers must arrive within ``server.header_timeout`` seconds (from
      the accept for a connection's first request, from the first byte for later ones).
    - Between keep-alive requests the connection may idle ``server.keepalive_timeout`` seconds.
    - Neither applies once the application runs: a stream response is never cut by them.

    The socket goes into the environ as ``notifier.socket`` so a stream can notice a client
    that closed its connection (notifier.stream.conn); gunicorn's worker sets
    ``gunicorn.socket`` the same way.

    Draining (notifier.stream.drain): each response then says ``Connection: close``, and a
    connection idle between requests is shut down, so no request arrives after the drain.
    """

    _served = 0  # requests answered on this connection
    _timer: gevent.Timeout | None = None
    _raw_requestline = ""

    def MessageClass(self, fp: Any, *_: Any) -> OldMessage:  # noqa: N802 - pywsgi's name
        """Parse the request's headers (pywsgi calls this with the socket's file)."""
        return parse_headers(fp)

    def _start_header_timer(self) -> None:
        seconds = getattr(self.server, "header_timeout", None)
        if seconds and self._timer is None:
            self._timer = gevent.Timeout.start_new(seconds, ClientTooSlow)

    def _cancel_header_timer(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None

    def handle(self) -> None:
        """Serve the connection's requests, tracked so that a drain can close it when idle."""
        sock = self.socket
        drain.opened(sock)
        try:
            super().handle()
        finally:
            drain.forget(sock)

    def read_requestline(self) -> str:
        """Wait (bounded) for the next request, then read its line under the header deadline."""
        if self._served:
            idle = getattr(self.server, "keepalive_timeout", None)
            # peek() returns at the first byte (or b"" at EOF, e.g. after a drain shut the
            # socket down) and consumes nothing.
            with gevent.Timeout(idle or None, ClientTooSlow):
                self.rfile.peek(1)
        self._start_header_timer()
        line: str = super().read_requestline()
        self._raw_requestline = line
        return line

    def read_request(self, raw_requestline: str) -> bool:  # type: ignore[override]
        """Parse the request line and headers; the header deadline ends here."""
        try:
            return bool(super().read_request(raw_requestline))
        finally:
            self._cancel_header_timer()

    def handle_one_request(self) -> Any:
        """Handle one request; a client too slow to send one is disconnected without a word."""
        if not self._served:
            self._start_header_timer()  # counts from the accept, not from the first byte
        try:
            result = super().handle_one_request()
        except ClientTooSlow:
            self.close_connection = True
            return None
        finally:
            self._cancel_header_timer()
        self._served += 1
        return result

    def handle_one_response(self) -> None:
        """Run the application; close the connection when unread body had to be left behind.

        While it runs the connection counts as busy for a drain, afterwards as idle.
        """
        drain.busy(self.socket)
        try:
            super().handle_one_response()
        finally:
            if getattr(self.wsgi_input, "abandoned", False) or drain.draining():
                self.close_connection = True
            drain.idle(self.socket)

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        """Start the response; while draining, say ``Connection: close`` (pywsgi then closes)."""
        if drain.draining() and not any(k.lower() == "connection" for k, _ in headers):
            headers = [*headers, ("Connection", "close")]
        return super().start_response(status, headers, exc_info)

    def _write_with_headers(self, data: bytes) -> None:
        """Write the head with the first data, then let go of the header list.

        A stream keeps its handler for its whole life; the encoded head (the security
        headers among them) was 2.5 KiB of every idle stream (tracemalloc), and pywsgi reads
        the list only to write the head, once.
        """
        super()._write_with_headers(data)  # type: ignore[misc]
        self.response_headers = []

    def get_environ(self) -> dict[str, Any]:
        """Add the client socket to the WSGI environ and bound the body discard."""
        env = super().get_environ()
        given: Any = env.get("wsgi.input")
        if given is not None and id(given) == id(self.wsgi_input):  # ids: mypy narrows on "is"
            self.wsgi_input = env["wsgi.input"] = BoundedInput(
                given.rfile,
                given.content_length,
                socket=given.socket,
                chunked_input=given.chunked_input,
            )
        env["notifier.socket"] = self.socket
        return env

    def _request_id(self) -> str:
        environ = getattr(self, "environ", None) or {}
        return str(environ.get(ENVIRON_KEY) or "-")

    def format_request(self) -> str:
        """Return the access-log line (query string cut, request id appended).

        pywsgi's line (``addr - - [time] "request line" status length seconds``), built here
        in one pass with the redacted request line and the second's timestamp rendered once.
        """
        length = self.response_length or "-"
        delta = f"{self.time_finish - self.time_start:.6f}" if self.time_finish else "-"
        addr = self.client_address
        client = addr[0] if isinstance(addr, tuple) else addr
        status = (self._orig_status or self.status or "000").split()[0]  # type: ignore[attr-defined]
        line = redact_requestline(self.requestline) if self.requestline else ""
        rid = self._request_id()
        return f'{client or "-"} - - [{_now()}] "{line}" {status} {length} {delta} rid={rid}'

    def log_request(self) -> None:
        """Write the access line through logging (timestamp, level, JSON lines if asked).

        The record is made and handled directly: Logger.info would also walk the stack for
        the caller's file and line (findCaller), which no access line shows.
        """
        if not access_log.isEnabledFor(logging.INFO):
            return
        rid = self._request_id()
        record = access_log.makeRecord(
            access_log.name,
            logging.INFO,
            "(unknown file)",
            0,
            self.format_request(),
            (),
            None,
            extra={"request_id": rid},
        )
        access_log.handle(record)

    def log_error(self, msg: str, *args: Any) -> None:
        """Write an error line with the request line's query string cut out.

        pywsgi quotes the raw request line (``Invalid http version: 'GET /…?token=… HTTP/9.9'``)
        when it refuses one; those are exactly the lines a misbehaving client produces.
        """
        message = msg % args if args else msg
        for raw in {self._raw_requestline, self.requestline or ""}:
            if raw and "?" in raw:
                message = message.replace(repr(raw)[1:-1], repr(redact_requestline(raw))[1:-1])
                message = message.replace(raw, redact_requestline(raw))
        error_log.error(_QUERY.sub("?…", message))
