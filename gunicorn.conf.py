"""Gunicorn settings for Notifier: gevent workers, each with its own bus listener and loops.

Run: ``gunicorn -w 4 -b 127.0.0.1:8000 --forwarded-allow-ips 127.0.0.1 app:app`` (or
``-b unix:/run/notifier/gunicorn.sock``): only the proxy talks to gunicorn, so it listens on
loopback or a private address, never 0.0.0.0. This file is read from the working directory;
flags given on the command line win. Every worker is a separate process with
its own hub, so set REDIS_URL whenever -w is above 1: the Redis bus is what carries an
event to the streams held by the other workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import gevent

worker_class = "gevent"
# Concurrent connections per worker; SSE streams are long-lived, so leave room for them.
worker_connections = 2000
# Streams are closed by the worker itself on SIGTERM (below), so a short grace suffices
# for the ordinary requests still in flight.
graceful_timeout = 5
# No gunicornc control socket: nothing here needs runtime control, and it is one less
# writable socket under $HOME (gunicorn 25.1+ creates one by default).
control_socket_disable = True
# Access logs keep the path but never the query string: stream tokens travel in ?token=.
# rid= is the request id echoed in X-Request-ID. The app's own records go to gunicorn's
# error-log handlers by themselves (notifier/logs.py finds them in each worker).
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s rid=%({x-request-id}o)s'
)


def on_starting(server: Any) -> None:
    """Check the configuration once in the master: a bad value stops gunicorn with exit 2.

    Each worker's import of app.py exits 2 on a bad value too, but gunicorn would only boot
    another worker, forever. The check imports the app in a child process, so the master
    itself imports nothing of it before the workers fork and gevent-patch (about 1 s).
    """
    here = os.path.dirname(os.path.abspath(__file__))
    check = subprocess.run([sys.executable, "-c", "import app"], cwd=here, check=False)
    if check.returncode == 2:  # app.py has printed which variable and what it may be.
        sys.exit(2)


def post_worker_init(worker: Any) -> None:
    """Subscribe this worker's bus and start its loops before it accepts a request."""
    from notifier.workers import start_workers, stop_workers

    app = worker.wsgi
    start_workers(app)
    handle_exit = worker.handle_exit

    def _exit(sig: int, frame: Any) -> None:
        # gunicorn's SIGTERM only stops accepting and waits graceful_timeout for requests to
        # finish; open streams never finish by themselves, so end them now (retry hint).
        handle_exit(sig, frame)
        gevent.spawn(stop_workers, app)  # out of the signal handler: it joins greenlets

    # init_signals() ran before this hook and bound the old method; rebind SIGTERM.
    worker.handle_exit = _exit
    signal.signal(signal.SIGTERM, _exit)
    signal.siginterrupt(signal.SIGTERM, False)


def worker_int(worker: Any) -> None:
    """On SIGINT/SIGQUIT end streams with a retry hint and stop the loops."""
    from notifier.workers import stop_workers

    stop_workers(worker.wsgi, timeout=2)


def worker_exit(server: Any, worker: Any) -> None:
    """Stop what is still running (idempotent after the hooks above)."""
    from notifier.workers import stop_workers

    if getattr(worker, "wsgi", None) is not None:
        stop_workers(worker.wsgi, timeout=2)
