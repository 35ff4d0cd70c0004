"""Drain this process for a restart: no new streams, no reused keep-alive connections.

A restart (gunicorn SIGTERM, SIGQUIT, or the SIGTERM its SIGHUP reload sends to old workers;
SIGTERM/SIGINT for ``python app.py``) used to end the open streams but keep serving whatever
arrived on the proxy's keep-alive connections, new streams included, until the graceful
timeout killed them: those clients were cut twice. Once :func:`begin` has run:

* the hub refuses new subscriptions (``Hub.drain``): a stream request gets 503 with a jittered
  ``Retry-After`` and the JSON error body;
* every response closes its connection (``Connection: close``; gunicorn does it by itself once
  ``worker.alive`` is False, ``python app.py`` through :func:`draining` in its handler);
* connections idle between two requests are shut down at once, so the proxy drops them from its
  keep-alive pool instead of sending the next request to a process that is leaving;
* :func:`cut_all` (gunicorn, just before the graceful timeout) shuts down whatever is left, so
  the worker returns and exits 0 instead of being SIGKILLed by the arbiter.

Connections are tracked by their client socket: opened (fresh) → busy while requests are
served (HTTP/2 may serve several at once) → idle once none is → forgotten when the server
closes it. Without a tracked server (the Flask test client) nothing is registered and only the
hub's refusal applies.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any

from werkzeug.wsgi import ClosingIterator

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_state = {"draining": False}
_inflight: dict[Any, int] = {}  # client socket → requests being served on it (HTTP/2: several)
_fresh: set[Any] = set()  # connections whose first request has not started yet


def draining() -> bool:
    """Return True once this process has started draining."""
    return _state["draining"]


def opened(sock: Any) -> None:
    """Track a new connection; it is not idle before its first request was answered."""
    _inflight[sock] = 0
    _fresh.add(sock)


def forget(sock: Any) -> None:
    """Stop tracking a connection the server is closing."""
    _inflight.pop(sock, None)
    _fresh.discard(sock)


def busy(sock: Any) -> None:
    """Count a request starting on ``sock`` (a drain leaves the connection to finish it)."""
    if sock in _inflight:
        _fresh.discard(sock)
        _inflight[sock] += 1


def idle(sock: Any) -> None:
    """Count a request answered on ``sock``; with none left while draining, shut it down."""
    if sock not in _inflight:
        return
    _inflight[sock] = left = max(0, _inflight[sock] - 1)
    if left == 0 and draining():
        forget(sock)
        _shutdown(sock)


def _idle_now() -> list[Any]:
    return [sock for sock, n in _inflight.items() if n == 0 and sock not in _fresh]


def _shutdown(sock: Any) -> None:
    # shutdown, not close: the server's own greenlet still owns the socket; its pending read
    # returns b"" at once and it closes the connection the usual way. Queued response bytes
    # are still sent before the FIN.
    with suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_RDWR)


def begin() -> int:
    """Start draining: later requests close their connections; shut down the idle ones now.

    Returns how many idle connections were shut down. Idempotent.
    """
    _state["draining"] = True
    idle_now = _idle_now()
    for sock in idle_now:
        forget(sock)
        _shutdown(sock)
    return len(idle_now)


def cut_all() -> int:
    """Shut down every connection still open (the graceful timeout is about to expire)."""
    left = list(_inflight)
    _inflight.clear()
    _fresh.clear()
    for sock in left:
        _shutdown(sock)
    if left:
        log.warning("drain: cut %d connections still open at the graceful timeout", len(left))
    return len(left)


def reset() -> None:
    """Forget all state (tests that drain an app in-process)."""
    _state["draining"] = False
    _inflight.clear()
    _fresh.clear()


def track_wsgi(app: WSGIApp, environ_key: str = "gunicorn.socket") -> WSGIApp:
    """Wrap a WSGI app so each request marks its connection busy, and idle once answered."""

    def tracked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get(environ_key)
        if sock is None:
            return app(environ, start_response)
        busy(sock)
        try:
            result = app(environ, start_response)
        except BaseException:
            idle(sock)
            raise
        return ClosingIterator(result, [lambda: idle(sock)])

    return tracked


def track_handle(handle: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap gunicorn's ``AsyncWorker.handle(listener, client, addr)`` to track the connection."""

    def tracked(listener: Any, client: Any, addr: Any) -> Any:
        opened(client)
        try:
            return handle(listener, client, addr)
        finally:
            forget(client)

    return tracked
