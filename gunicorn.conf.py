"""Gunicorn settings for Notifier: gevent workers, each with its own bus listener and loops.

Run: ``gunicorn -w 4 -b 127.0.0.1:8000 --forwarded-allow-ips 127.0.0.1 app:app`` (or
``-b unix:/run/notifier/gunicorn.sock``): only the proxy talks to gunicorn, so it listens on
loopback or a private address, never 0.0.0.0. This file is read from the working directory;
flags given on the command line win. Every worker is a separate process with
its own hub, so set REDIS_URL whenever -w is above 1: the Redis bus is what carries an
event to the streams held by the other workers.

Restarts drain (notifier/stream/drain.py): a worker told to leave (SIGTERM from the arbiter on
shutdown or on a SIGHUP reload, SIGQUIT/SIGINT for a quick stop) refuses new streams with 503,
answers everything else with ``Connection: close``, shuts its idle keep-alive connections, ends
its streams with a jittered ``retry:`` and exits 0 well inside ``graceful_timeout``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

import gevent

worker_class = "gevent"
# Concurrent connections per worker; SSE streams are long-lived, so leave room for them.
worker_connections = 2000
# Streams are ended by the worker itself on SIGTERM (below), so a short grace suffices
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

# What is left open this long before the graceful timeout is cut by the worker itself: the
# GeventWorker polls its pool once a second and the arbiter SIGKILLs at graceful_timeout.
CUT_BEFORE_DEADLINE = 1.5


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


def _drain(worker: Any, how: str) -> None:
    """Start draining this worker (idempotent): refuse streams, close idle keep-alives."""
    from notifier.stream import drain

    if drain.draining():
        return
    idle = drain.begin()
    worker.log.info(
        "Worker draining (pid: %s, %s): closed %d idle connections", worker.pid, how, idle
    )


def _stop(worker: Any, timeout: float) -> None:
    from notifier.workers import stop_workers

    streams = stop_workers(worker.wsgi, timeout=timeout)
    worker.log.info(
        "Worker drained (pid: %s): ended %d streams with a retry hint", worker.pid, streams
    )


def post_worker_init(worker: Any) -> None:
    """Subscribe this worker's bus and start its loops before it accepts a request."""
    from notifier.server import freeze_startup_objects
    from notifier.stream import drain
    from notifier.workers import start_workers

    app = worker.wsgi
    start_workers(app)
    freeze_startup_objects()
    # Track each connection (busy while a request runs, idle between requests) for the drain.
    worker.handle = drain.track_handle(worker.handle)  # run() binds self.handle after this hook
    app.wsgi_app = drain.track_wsgi(app.wsgi_app)
    handle_exit = worker.handle_exit

    def _exit(sig: int, frame: Any) -> None:
        # gunicorn's SIGTERM sets alive = False (each later response closes its connection) and
        # waits graceful_timeout for the pool to empty; streams never end by themselves and
        # new ones would still be served on the proxy's keep-alive connections: drain.
        handle_exit(sig, frame)
        _drain(worker, "SIGTERM")
        gevent.spawn(_stop, worker, 5.0)  # out of the signal handler: it joins greenlets
        cut_at = max(0.5, float(worker.cfg.graceful_timeout) - CUT_BEFORE_DEADLINE)
        gevent.spawn_later(cut_at, drain.cut_all)

    # init_signals() ran before this hook and bound the old method; rebind SIGTERM.
    worker.handle_exit = _exit
    signal.signal(signal.SIGTERM, _exit)
    signal.siginterrupt(signal.SIGTERM, False)


def worker_int(worker: Any) -> None:
    """On SIGINT/SIGQUIT (a quick stop) drain too, then end streams and stop the loops."""
    _drain(worker, "SIGQUIT/SIGINT")
    _stop(worker, 2.0)


def worker_abort(worker: Any) -> None:
    """SIGABRT (the arbiter's timeout watchdog): say so; the process ends right after."""
    worker.log.warning("Worker aborted (pid: %s): its event loop was blocked", worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    """Stop what is still running (idempotent after the hooks above)."""
    from notifier.workers import stop_workers

    if getattr(worker, "wsgi", None) is not None:
        stop_workers(worker.wsgi, timeout=2)


# --- Prometheus multiprocess mode -----------------------------------------------------------
# Each worker writes its metrics to files in PROMETHEUS_MULTIPROC_DIR and whichever worker
# answers /metrics sums them all (notifier/metrics_export.py). The variable must be set before
# a worker imports prometheus-client, so it is set here, in the master, while this file loads
# (before any fork). Unset: a fresh temporary directory per master start, removed on exit. Set
# by the operator: that directory, emptied at every master start. A SIGHUP reload reads this
# file again in the same master and keeps the directory, so totals carry on across it.
_PROM_OWNED = "NOTIFIER_PROMETHEUS_DIR_OWNER"  # "<master pid>:<dir>" of a directory made here


def _prometheus_dir() -> str:
    """Return the multiprocess directory, creating a temporary one for this master if unset."""
    current = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    owner, _, owned = os.environ.get(_PROM_OWNED, "").partition(":")
    if current and current == owned and owner == str(os.getpid()):
        return current  # SIGHUP: this master made it
    if current and current != owned:
        os.makedirs(current, exist_ok=True)  # the operator's choice
        return current
    # Unset, or inherited from an old master (USR2 upgrade): start afresh.
    path = tempfile.mkdtemp(prefix="notifier-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.environ[_PROM_OWNED] = f"{os.getpid()}:{path}"
    return path


_prometheus_dir()


def when_ready(server: Any) -> None:
    """Empty the metrics directory before the first workers fork (a new master starts at 0).

    Files from a previous run, or from on_starting's config check, would otherwise be summed in.
    """
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for name in os.listdir(path):
        if name.endswith(".db"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(path, name))


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (its counters stay, so totals never go back)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the temporary metrics directory this master made."""
    owner, _, owned = os.environ.get(_PROM_OWNED, "").partition(":")
    if owned and owner == str(os.getpid()):
        shutil.rmtree(owned, ignore_errors=True)
