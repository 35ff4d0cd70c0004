"""Serve one gevent process: bind (failing clearly), start workers, stop cleanly on signals."""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import sys
from typing import Any

import gevent
from flask import Flask
from gevent.pywsgi import WSGIHandler, WSGIServer


class QuietHandler(WSGIHandler):
    """Log requests without query strings: stream tokens travel in ?token= and must not leak."""

    def format_request(self) -> str:
        """Return the access-log line with the query string removed."""
        line = super().format_request()
        if self.query:
            line = line.replace("?" + self.query, "?…", 1)
        return line


class NoDelayServer(WSGIServer):
    """WSGIServer that sets TCP_NODELAY on every accepted socket.

    Without it, a keep-alive client's second request waits on Nagle + delayed ACK (~40 ms).
    """

    handler_class = QuietHandler

    def handle(self, sock: socket.socket, address: Any) -> None:
        """Disable Nagle, then hand the connection to pywsgi."""
        with contextlib.suppress(OSError):  # unix sockets have no TCP options
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
    start_workers(app)
    server = NoDelayServer(listener, app, log=sys.stderr)

    def _stop(*_: Any) -> None:
        # Streams end first (with a retry hint) so clients reconnect elsewhere promptly.
        gevent.spawn(_shutdown)

    def _shutdown() -> None:
        stop_workers(app)
        server.stop(timeout=3)

    gevent.signal_handler(signal.SIGTERM, _stop)
    gevent.signal_handler(signal.SIGINT, _stop)
    print(f"Notifier serving on http://{host}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0
