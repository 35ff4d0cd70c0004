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

Connections are tracked by their client socket: opened → busy while a request is served →
idle between requests → forgotten when the server closes it. Without a tracked server (the Flask
test client) nothing is registered and only the hub's refusal applies.
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
_conns: dict[Any, bool] = {}  # client socket → True while idle between requests


def draining() -> bool:
    """Return True once this process has started draining."""
    return _state["draining"]


def opened(sock: Any) -> None:
    """Track a new connection; it counts as busy until its first response is written."""
    _conns[sock] = False


def forget(sock: Any) -> None:
    """Stop tracking a connection the server is closing."""
    _conns.pop(sock, None)


def busy(sock: Any) -> None:
    """Mark a connection as serving a request (drain leaves it to finish)."""
    if sock in _conns:
        _conns[sock] = False


def idle(sock: Any) -> None:
    """Mark a connection as waiting for its next request; shut it down if draining already."""
    if draining():
        _shutdown(sock)
    elif sock in _conns:
        _conns[sock] = True


def _shutdown(sock: Any) -> None:
    # shutdown, not close: the server's own greenlet still owns the socket; its pending read
    # returns b"" at once and it closes the connection the usual way.
    with suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_RDWR)


def begin() -> int:
    """Start draining: later requests close their connections; shut down the idle ones now.

    Returns how many idle connections were shut down. Idempotent.
    """
    _state["draining"] = True
    idle_now = [sock for sock, is_idle in _conns.items() if is_idle]
    for sock in idle_now:
        _conns.pop(sock, None)
        _shutdown(sock)
    return len(idle_now)


def cut_all() -> int:
    """Shut down every connection still open (the graceful timeout is about to expire)."""
    left = list(_conns)
    _conns.clear()
    for sock in left:
        _shutdown(sock)
    if left:
        log.warning("drain: cut %d connections still open at the graceful timeout", len(left))
    return len(left)


def reset() -> None:
    """Forget all state (tests that drain an app in-process)."""
    _state["draining"] = False
    _conns.clear()


def track_wsgi(app: WSGIApp, environ_key: str = "gunicorn.socket") -> WSGIApp:
    """Wrap a WSGI app so each request marks its connection busy, and idle once answered."""

    def tracked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get(environ_key)
        if sock is None:
            return app(environ, start_response)
        busy(sock)
        return ClosingIterator(app(environ, start_response), [lambda: idle(sock)])

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
