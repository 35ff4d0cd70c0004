"""Serve one gevent process: bind (failing clearly), start workers, stop cleanly on signals."""

from __future__ import annotations

import errno
import gc
import logging
import signal
import socket
import sys
from contextlib import suppress
from typing import Any

import gevent
from flask import Flask
from gevent.pool import Pool
from gevent.pywsgi import WSGIServer

from notifier.server_handler import QuietHandler
from notifier.stream import drain

log = logging.getLogger("notifier.server")

STOP_TIMEOUT = 3.0  # seconds in-flight requests get to finish after SIGTERM/SIGINT
FD_HEADROOM = 256  # descriptors besides client sockets: listener, database, redis, logs


# Sockets served beyond the stream cap (NOTIFIER_MAX_CONNECTIONS): room for /healthz, the API
# and pages while every stream slot is taken (the hub answers streams over the cap with 503).
EXTRA_CONNECTIONS = 100

_BUSY_BODY = b'{"error": {"code": "unavailable", "message": "too many open connections"}}'
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 5\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


class NoDelayServer(WSGIServer):
    """WSGIServer with TCP_NODELAY, bounded client waits and a cap on open connections.

    Without TCP_NODELAY every keep-alive request after the first waits on Nagle + the client's
    delayed ACK: 44 ms median instead of 0.5 ms (measured in docs/deployment.md).

    Beyond ``max_open`` connections a new socket is answered 503 and closed at once, before
    its request is read: it costs one accept and one write, so idle sockets can no longer use
    up the process's file descriptors and starve /healthz.
    """

    handler_class = QuietHandler

    def __init__(
        self,
        *args: Any,
        max_open: int | None = None,
        header_timeout: float | None = None,
        keepalive_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_open = max_open
        self.header_timeout = header_timeout  # read by QuietHandler
        self.keepalive_timeout = keepalive_timeout
        self.open_connections = 0

    def handle(self, sock: socket.socket, address: Any) -> None:
        """Refuse the socket when over the cap; else disable Nagle and hand it to pywsgi."""
        if self.max_open is not None and self.open_connections >= self.max_open:
            refuse(sock)
            return
        self.open_connections += 1
        try:
            with suppress(OSError):  # unix sockets have no TCP options
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle(sock, address)
        finally:
            self.open_connections -= 1


def refuse(sock: socket.socket) -> None:
    """Answer 503 and close without waiting for the client (nothing here may block)."""
    with suppress(OSError):
        sock.setblocking(False)
        sock.send(BUSY_RESPONSE)
        sock.shutdown(socket.SHUT_WR)
        # Read what already arrived: closing with unread data sends a reset, which can make
        # the client drop the 503 it has not read yet.
        sock.recv(65536)
    sock.close()


def raise_fd_limit(wanted: int) -> None:
    """Raise the soft open-files limit towards ``wanted`` (up to the hard limit); warn if short."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning(
            "open-files limit %s is below NOTIFIER_MAX_CONNECTIONS + %s + files (%s); "
            "raise `ulimit -n` or lower the setting",
            soft,
            EXTRA_CONNECTIONS,
            wanted,
        )


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen, or exit non-zero with a message when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            print(f"error: {host}:{port} is already in use; pick another --port", file=sys.stderr)
        else:
            print(f"error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        raise SystemExit(2) from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def freeze_startup_objects() -> None:
    """Move everything alive after start-up out of the cyclic collector's sight (gc.freeze).

    Modules, the SQLAlchemy metadata, templates and the app live as long as the process, yet
    every full collection walked them: during a broadcast the per-recipient objects trigger
    collections, and a full pass took 180-220 ms on 2 shared cores (the p99 of a broadcast).
    Freezing them after start-up cut CPU per broadcast delivery by about a fifth in the
    broadcast harness (docs/benchmarks.md). Called by ``python app.py`` and each gunicorn worker.
    """
    gc.collect()
    gc.freeze()


def serve(app: Flask, host: str, port: int) -> int:
    """Run the server and the background workers until SIGTERM or SIGINT."""
    from notifier.workers import start_workers, stop_workers

    listener = bind(host, port)
    start_workers(app)  # the bus is subscribed before the first request is accepted
    freeze_startup_objects()
    # A pool lets stop() wait for in-flight requests (without one it only stops accepting).
    max_open = int(app.config["NOTIFIER_MAX_CONNECTIONS"]) + EXTRA_CONNECTIONS
    raise_fd_limit(max_open + FD_HEADROOM)
    server = NoDelayServer(
        listener,
        app,
        log=logging.getLogger("notifier.access"),  # QuietHandler.log_request adds the id
        error_log=logging.getLogger("notifier.server"),
        spawn=Pool(),  # unbounded: the cap is max_open, and a full Pool would stop accepting
        max_open=max_open,
        header_timeout=float(app.config["NOTIFIER_HEADER_TIMEOUT"]) or None,
        keepalive_timeout=float(app.config["NOTIFIER_KEEPALIVE_TIMEOUT"]) or None,
    )
    server.stop_timeout = STOP_TIMEOUT  # also what serve_forever() waits on its way out
    stopping: list[gevent.Greenlet[..., Any]] = []

    def _stop(*_: Any) -> None:
        if not stopping:  # a second signal must not start a second shutdown
            stopping.append(gevent.spawn(_shutdown))

    def _shutdown() -> None:
        server.close()  # accept nothing new
        # Requests still in flight close their connections; idle keep-alive ones close now, so
        # a proxy cannot send this process another request (notifier.stream.drain).
        idle = drain.begin()
        streams = stop_workers(app)  # new streams get 503; open ones end with a retry hint
        log.info("Notifier draining: ended %s streams, closed %s idle connections", streams, idle)
        server.stop(timeout=STOP_TIMEOUT)  # other requests finish their transaction

    gevent.signal_handler(signal.SIGTERM, _stop)
    gevent.signal_handler(signal.SIGINT, _stop)
    log.info("Notifier serving on http://%s:%s", host, port)
    server.serve_forever()
    if stopping:
        stopping[0].join(timeout=STOP_TIMEOUT + 10)
    log.info("Notifier stopped")
    return 0
