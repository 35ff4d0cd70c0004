"""Watch the TCP connection behind each stream, so dead and stuck clients free their slots.

A stream only learns that its client went away when a write fails, and on a half-closed
connection the first write after the client's FIN still succeeds; a stream writes only once a
ping interval (25 s) when nothing happens, so under churn the counts ran ~20 % high (360 for at
most 300 real streams) and dead streams held their users' slots. So:

* each stream socket gets a read watcher on the event loop (:func:`register`): an SSE client
  never sends anything after its request, so "readable" means it closed, reset or (rarely)
  sent bytes; :func:`peer_closed` (a zero-timeout poll for POLLRDHUP/POLLHUP/POLLERR, which
  also holds for TLS sockets and ignores unread bytes) tells which. A closed client is
  unsubscribed at once ("gone"), which frees its slot and wakes its stream to end. A client
  that sent bytes is re-checked every WATCH_RECHECK seconds rather than on every loop turn;
* after each ``ping`` the stream asks :func:`peer_closed` too, and the cleanup loop calls
  :func:`reap` for every subscription (backstops: e.g. a platform without POLLRDHUP);
* a subscription dropped for overflow, idleness, a revoked credential or a gone peer may belong
  to a stream whose greenlet is blocked in a write to a client that stopped reading: then
  :func:`_on_disconnect` shuts its socket down, so that write fails at once instead of
  holding the greenlet and the socket.
  A stream that is not mid-write is left to wake up and end itself with a retry hint;
* TCP_USER_TIMEOUT bounds how long written data may stay unacknowledged (a vanished peer
  that sent no FIN at all);
* SO_SNDBUF is capped at STREAM_SNDBUF: Linux autotunes a send buffer up to 4 MB (measured:
  3.9 MB held for one client that stopped reading), which a slow client would pin in kernel
  memory before its queue even starts to fill. 128 KB (the kernel doubles it) still
  carries a replay at several MB/s at 100 ms RTT.

The socket comes from the WSGI environ: ``notifier.socket`` (set by server.QuietHandler),
``gunicorn.socket`` (gunicorn's gevent worker) or ``gunicorn.sock`` (its gevent_pywsgi worker).
Without one (the Flask test client) these checks are skipped.
"""

from __future__ import annotations

import logging
import select
import socket
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import gevent
from gevent import monkey

from notifier.bus.hub import Hub, Subscription, disconnected

log = logging.getLogger(__name__)

ENVIRON_KEYS = ("notifier.socket", "gunicorn.socket", "gunicorn.sock")
# The real poll even in a patched process: a zero timeout never blocks, so no greenlet switch.
_poll = monkey.get_original("select", "poll") if hasattr(select, "poll") else None
_GONE = (
    getattr(select, "POLLRDHUP", 0) | getattr(select, "POLLHUP", 0) | getattr(select, "POLLERR", 0)
)
_SHUT_DOWN_ON = frozenset({"overflow", "idle", "revoked", "gone"})
STREAM_SNDBUF = 128 * 1024
WATCH_RECHECK = 1.0  # seconds between checks of a client that sent bytes instead of closing
_READ = 1  # libev/libuv EV_READ


@dataclass(eq=False)
class Conn:
    """The TCP side of one stream: its socket, whether the server is writing, its watcher."""

    sock: Any
    writing: bool = False
    watcher: Any = None
    timer: Any = None

    def stop_watching(self) -> None:
        """Stop and free the read watcher and any recheck timer (before the socket closes)."""
        for w in (self.watcher, self.timer):
            if w is not None:
                w.stop()
                w.close()
        self.watcher = self.timer = None


_conns: dict[str, Conn] = {}


def socket_from(environ: dict[str, Any]) -> Any | None:
    """Return the client socket of this request, or None when the server does not expose it."""
    for key in ENVIRON_KEYS:
        sock = environ.get(key)
        if sock is not None and hasattr(sock, "fileno"):
            return sock
    return None


def register(
    sub: Subscription, sock: Any | None, user_timeout_s: float, hub: Hub | None = None
) -> Conn | None:
    """Track ``sock`` as the connection of ``sub``; bound its send buffer and unacked writes.

    With ``hub``, a read watcher unsubscribes ``sub`` from it the moment the client goes away.
    """
    if sock is None:
        return None
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF)
    if hasattr(socket, "TCP_USER_TIMEOUT") and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(user_timeout_s * 1000))
        except OSError as exc:  # not fatal: the ping check still finds closed peers
            log.debug("stream: TCP_USER_TIMEOUT not set: %s", exc)
    conn = _conns[sub.client_id] = Conn(sock)
    if hub is not None:
        _watch(conn, sub, hub)
    return conn


def _watch(conn: Conn, sub: Subscription, hub: Hub) -> None:
    """Unsubscribe ``sub`` as soon as its client closes or resets the connection."""
    try:
        fd = conn.sock.fileno()
        loop = gevent.get_hub().loop
    except (OSError, ValueError):
        return
    if fd < 0:
        return

    def readable() -> None:
        # Runs in the event loop itself: nothing here may block or switch greenlets.
        if conn.watcher is None:
            return
        if peer_closed(conn.sock):
            conn.stop_watching()
            gevent.spawn(hub.unsubscribe, sub, "gone")  # signal receivers may switch
            return
        # Bytes from the client (not an SSE thing to do): a level-triggered watcher would fire
        # on every loop turn, so pause it and look again later.
        conn.watcher.stop()
        if conn.timer is None:
            conn.timer = loop.timer(WATCH_RECHECK, WATCH_RECHECK)
            conn.timer.start(readable)

    conn.watcher = loop.io(fd, _READ)
    conn.watcher.start(readable)


def unregister(sub: Subscription) -> None:
    """Stop tracking the connection of ``sub``."""
    conn = _conns.pop(sub.client_id, None)
    if conn is not None:
        conn.stop_watching()


def peer_closed(sock: Any) -> bool:
    """Return True when the client closed or reset the connection (never blocks)."""
    if _poll is None:
        return False
    try:
        poller = _poll()
        poller.register(sock.fileno(), _GONE)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # fileno() of a closed socket is -1 → ValueError
        return True


def is_gone(sub: Subscription) -> bool:
    """Return True when the tracked connection of ``sub`` is closed by the peer."""
    conn = _conns.get(sub.client_id)
    return conn is not None and peer_closed(conn.sock)


def reap(hub: Hub) -> int:
    """Drop the subscriptions of ``hub`` whose clients closed the connection; return how many."""
    removed = 0
    for sub in hub.subscriptions():
        if is_gone(sub):
            hub.unsubscribe(sub, "gone")
            removed += 1
    return removed


@disconnected.connect
def _on_disconnect(_hub: Hub, subscription: Subscription, reason: str = "", **_: Any) -> None:
    """Shut down the socket of a stream dropped mid-write (overflow, idle, revoked; see above)."""
    conn = _conns.get(subscription.client_id)
    if reason not in _SHUT_DOWN_ON or conn is None or not conn.writing:
        return
    del _conns[subscription.client_id]
    conn.stop_watching()
    with suppress(OSError):  # already closed by the peer or the server
        conn.sock.shutdown(socket.SHUT_RDWR)
