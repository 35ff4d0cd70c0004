"""/metrics under real gunicorn with 2 gevent workers: every scrape answers the sum over workers.

The kernel picks which worker accepts a connection, so the test learns which worker answers by
asking ``/api/v1/notifications/stream/connections`` (its ``instance`` is ``prefix:pid:random``)
and then scraping on the same keep-alive connection, which the same worker serves.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures_live import LiveServer
from tests.sse_client import SSEClient, bearer, token_for

ROUTE = "/api/v1/notifications/stream/connections"
COUNTED = f'notifier_http_requests_total{{method="GET",route="{ROUTE}",status="200"}}'


class Probe:
    """Send requests to a live server, counting those of ROUTE, and scrape it."""

    def __init__(self, server: LiveServer, token: str) -> None:
        parts = urlsplit(server.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = bearer(token)
        self.sent = 0  # requests of ROUTE answered 200 so far
        self.text = ""  # the last scrape's body

    def ask(self, conn: http.client.HTTPConnection) -> dict[str, object]:
        """GET ROUTE on ``conn``; return its JSON (``instance``, ``total`` streams)."""
        conn.request("GET", ROUTE, headers=self.headers)
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 200, body
        self.sent += 1
        return dict(body)

    def worker(self) -> tuple[int, dict[str, object]]:
        """Ask on a fresh connection; return the answering worker's pid and the answer."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            body = self.ask(conn)
        finally:
            conn.close()
        return int(str(body["instance"]).split(":")[-2]), body  # prefix:pid:random

    def scrape(self) -> tuple[int, dict[str, float]]:
        """Scrape /metrics; return the pid of the worker that answered and the samples."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            pid = int(str(self.ask(conn)["instance"]).split(":")[-2])
            conn.request("GET", "/metrics")  # same connection, so the same worker
            resp = conn.getresponse()
            self.text = resp.read().decode()
            assert resp.status == 200, self.text
        finally:
            conn.close()
        samples = {}
        for family in text_string_to_metric_families(self.text):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return pid, samples

    def spread(self, seconds: float = 60.0) -> dict[int, int]:
        """Send requests on fresh connections until both workers answered some; return counts.

        Bounded by time, not by count: a worker the master has just respawned is still
        importing the app on a busy machine, and until it accepts every request goes to
        the other one however many are sent (CI once sent 400 in two seconds and lost).
        """
        by_pid: dict[int, int] = {}
        deadline = time.monotonic() + seconds
        while (len(by_pid) < 2 or min(by_pid.values()) < 5) and time.monotonic() < deadline:
            pid, _ = self.worker()
            by_pid[pid] = by_pid.get(pid, 0) + 1
            if len(by_pid) < 2:
                time.sleep(0.01)  # let the other worker's accept loop win a wake-up
        return by_pid


def pids_in(samples: dict[str, float]) -> set[int]:
    """Return the pids of the process metrics in a scrape."""
    prefix = 'process_resident_memory_bytes{pid="'
    return {int(k[len(prefix) : -2]) for k in samples if k.startswith(prefix)}


def test_every_scrape_sums_over_workers_and_survives_a_killed_worker(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(seed=True, gunicorn_workers=2)
    probe = Probe(server, token_for(server, "admin@example.com"))
    by_pid = probe.spread()
    assert len(by_pid) == 2, by_pid
    workers = set(by_pid)

    # Scrape until both workers have answered at least twice: every answer is the same sum.
    answered: dict[int, int] = {}
    totals = []
    while min(answered.get(p, 0) for p in workers) < 2 and len(totals) < 60:
        pid, samples = probe.scrape()
        answered[pid] = answered.get(pid, 0) + 1
        totals.append(samples[COUNTED])
        assert samples[COUNTED] == probe.sent, (pid, samples[COUNTED], probe.sent)
        assert pids_in(samples) == workers  # per-pid process figures of every live worker
        assert samples["notifier_stream_connections"] == 0
    assert set(answered) == workers, answered
    assert totals == sorted(totals)  # monotonic across scrapes
    print(f"[metrics] requests per worker {by_pid}; scrapes per worker {answered}; {totals}")
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed for this test (Debian: apt-get install prometheus)"
    check = subprocess.run(
        [promtool, "check", "metrics"], input=probe.text.encode(), capture_output=True, timeout=30
    )
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

    # A stream held by one worker, then that worker killed: the master respawns it; its
    # counts stay in the sum, its stream leaves the connections gauge (child_exit).
    stream = SSEClient(server.url, headers=probe.headers)
    try:
        assert stream.status == 200 and stream.wait_event("stats", timeout=15)
        holder = None
        deadline = time.monotonic() + 30
        while holder is None and time.monotonic() < deadline:
            pid, body = probe.worker()
            holder = pid if body["total"] == 1 else None
        assert holder in workers
        _, samples = probe.scrape()
        assert samples["notifier_stream_connections"] == 1
        before = samples[COUNTED]

        os.kill(holder, signal.SIGKILL)
        deadline = time.monotonic() + 30
        samples = {}
        while time.monotonic() < deadline:
            try:
                _, samples = probe.scrape()
            except (OSError, http.client.HTTPException):
                continue  # a connection the dying worker had accepted
            if holder not in pids_in(samples) and len(pids_in(samples)) == 2:
                break
        assert holder not in pids_in(samples) and len(pids_in(samples)) == 2, samples
    finally:
        stream.close()

    workers = pids_in(samples)
    assert samples[COUNTED] >= before
    assert samples["notifier_stream_connections"] == 0
    by_pid = probe.spread()
    assert set(by_pid) == workers
    last = 0.0
    for _ in range(6):
        _, samples = probe.scrape()
        # Everything answered so far, the killed worker's share included: nothing went back.
        assert samples[COUNTED] == probe.sent
        assert samples[COUNTED] >= last
        last = samples[COUNTED]


def multiproc_dir_of(pid: int) -> Path:
    """Return the temporary metrics directory a worker writes to (it holds its counter file).

    /proc/<pid>/environ cannot say: it shows the environment at exec, not what the master set.
    """
    [folder] = [
        d
        for d in Path(tempfile.gettempdir()).glob("notifier-metrics-*")
        if (d / f"counter_{pid}.db").exists()
    ]
    return folder


def test_sighup_keeps_the_totals_and_exit_removes_the_directory(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(seed=True, gunicorn_workers=1)
    probe = Probe(server, token_for(server, "admin@example.com"))
    for _ in range(5):
        old, _ = probe.worker()
    folder = multiproc_dir_of(old)
    assert folder.is_dir() and folder.name.startswith("notifier-metrics-")

    assert server.proc is not None
    server.proc.send_signal(signal.SIGHUP)  # the master reloads its config, new workers
    deadline = time.monotonic() + 30
    new = old
    while new == old and time.monotonic() < deadline:
        try:
            new, _ = probe.worker()
        except (OSError, http.client.HTTPException):
            continue
    assert new != old
    assert multiproc_dir_of(new) == folder  # the reload kept the directory
    _, samples = probe.scrape()
    assert samples[COUNTED] == probe.sent  # the old worker's requests are still in the sum

    assert server.stop() == 0
    assert not folder.exists()  # on_exit removed the temporary directory


def test_python_app_py_serves_its_own_registry(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(seed=True)  # python app.py: one process, no multiprocess dir
    probe = Probe(server, token_for(server, "admin@example.com"))
    pid, _ = probe.worker()
    assert server.proc is not None and pid == server.proc.pid
    for expected in (2, 3):  # each scrape asks ROUTE once first
        _, samples = probe.scrape()
        assert samples[COUNTED] == expected == probe.sent
        assert pids_in(samples) == {pid}
