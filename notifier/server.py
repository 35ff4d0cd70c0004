"""Serve one gevent process: bind (failing clearly), start workers, stop cleanly on signals."""

from __future__ import annotations

import errno
import signal
import socket
import sys
from contextlib import suppress
from typing import Any

import gevent
from flask import Flask
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

STOP_TIMEOUT = 3.0  # seconds in-flight requests get to finish after SIGTERM/SIGINT


class QuietHandler(WSGIHandler):
    """Log requests without query strings (stream tokens travel in ?token=) and expose the socket.

    The socket goes into the environ as ``notifier.socket`` so a stream can notice a client
    that closed its connection (notifier.stream.conn); gunicorn's worker sets
    ``gunicorn.socket`` the same way.
    """

    def format_request(self) -> str:
        """Return the access-log line with any query string cut from the request line."""
        line = super().format_request()
        path = self.path or ""
        if "?" in path:
            line = line.replace(path, path.split("?", 1)[0] + "?…", 1)
        return line

    def get_environ(self) -> dict[str, Any]:
        """Add the client socket to the WSGI environ."""
        env = super().get_environ()
        env["notifier.socket"] = self.socket
        return env  # type: ignore[no-any-return]


class NoDelayServer(WSGIServer):
    """WSGIServer that sets TCP_NODELAY on every accepted socket.

    Without it, every keep-alive request after the first waits on Nagle + the client's delayed
    ACK: 44 ms median instead of 0.5 ms (measured in docs/deployment.md).
    """

    handler_class = QuietHandler

    def handle(self, sock: socket.socket, address: Any) -> None:
        """Disable Nagle, then hand the connection to pywsgi."""
        with suppress(OSError):  # unix sockets have no TCP options
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


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


def serve(app: Flask, host: str, port: int) -> int:
    """Run the server and the background workers until SIGTERM or SIGINT."""
    from notifier.workers import start_workers, stop_workers

    listener = bind(host, port)
    start_workers(app)  # the bus is subscribed before the first request is accepted
    # A pool lets stop() wait for in-flight requests (without one it only stops accepting).
    server = NoDelayServer(listener, app, log=sys.stderr, spawn=Pool())
    server.stop_timeout = STOP_TIMEOUT  # also what serve_forever() waits on its way out
    stopping: list[gevent.Greenlet] = []

    def _stop(*_: Any) -> None:
        if not stopping:  # a second signal must not start a second shutdown
            stopping.append(gevent.spawn(_shutdown))

    def _shutdown() -> None:
        server.close()  # accept nothing new, so no stream can subscribe after close_all
        stop_workers(app)  # streams end now with a retry hint; loops finish their tick
        server.stop(timeout=STOP_TIMEOUT)  # other requests finish their transaction

    gevent.signal_handler(signal.SIGTERM, _stop)
    gevent.signal_handler(signal.SIGINT, _stop)
    print(f"Notifier serving on http://{host}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()
    if stopping:
        stopping[0].join(timeout=STOP_TIMEOUT + 10)
    print("Notifier stopped", file=sys.stderr, flush=True)
    return 0
