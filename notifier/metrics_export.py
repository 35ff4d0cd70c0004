"""Build the /metrics answer: every worker's counters summed, plus process and queue figures.

Under gunicorn each scrape reaches one worker at random. In prometheus-client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR`` set before the workers import the client; gunicorn.conf.py
does it) every metric writes to a per-process file in that directory and the answering worker
reads all of them: counters and histograms sum over every worker that ever ran since the
master started (a killed worker's counts stay, so totals never go back), the connections gauge
over the live ones. Without the variable (``python app.py``, tests) the plain in-memory
registry is served.

Custom collectors only see the process that answers, so the two here compute what is the
same from any worker: per-pid process figures read from ``/proc`` for every live worker, and
the delivery queue read from the database at scrape time.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from notifier import metrics
from notifier.extensions import db
from notifier.models import Delivery, utcnow

log = logging.getLogger(__name__)

# prometheus-client picks its value class from the environment once, at import.
MULTIPROCESS = values.ValueClass is not values.MutexValue
EXTERNAL_CHANNELS = ("email", "push", "sms", "webhook", "chat")
_LIVE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")


def multiproc_dir() -> str | None:
    """Return the multiprocess directory in use, or None in single-process mode."""
    if not MULTIPROCESS:
        return None
    # The lower-case spelling is deprecated in prometheus-client but still honoured by it.
    legacy = os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or legacy


def exposition(app: Flask) -> tuple[bytes, str]:
    """Return the Prometheus text of every metric and its content type."""
    metrics.sync_bus()
    registry = CollectorRegistry()
    if MULTIPROCESS:
        MultiProcessCollector(registry)  # registers itself; reads every worker's files
    else:
        registry.register(_Local())
    registry.register(ProcessCollector())
    registry.register(QueueCollector(app))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Local:
    """Serve the in-memory registry of this (only) process."""

    def collect(self) -> Iterable[Metric]:
        return metrics.REGISTRY.collect()


def live_pids() -> list[int]:
    """Return the pids of the live processes that write metrics (just this one when single).

    Every process that imports :mod:`notifier.metrics` writes a ``gauge_livesum_<pid>.db``
    (the connections gauge); gunicorn's ``child_exit`` hook deletes a dead worker's.
    """
    pids = {os.getpid()}
    path = multiproc_dir()
    if path:
        for name in os.listdir(path):
            match = _LIVE_FILE.match(name)
            if match:
                pids.add(int(match.group(1)))
    return sorted(pid for pid in pids if Path(f"/proc/{pid}/stat").exists())


class ProcessCollector:
    """Memory, open files and CPU time of each live worker, labelled by pid, from /proc.

    prometheus-client's own process collector reports only the process that answers the
    scrape, so a scrape of a random worker would jump between workers' numbers. Linux only;
    elsewhere these families are empty.
    """

    def __init__(self, proc: str = "/proc") -> None:
        """Read process figures below ``proc``."""
        self.proc = Path(proc)
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def collect(self) -> Iterator[Metric]:
        """Yield one sample per live pid in each family."""
        rss = GaugeMetricFamily(
            "process_resident_memory_bytes", "Resident memory size in bytes", labels=["pid"]
        )
        vms = GaugeMetricFamily(
            "process_virtual_memory_bytes", "Virtual memory size in bytes", labels=["pid"]
        )
        cpu = CounterMetricFamily(
            "process_cpu_seconds", "User and system CPU time spent in seconds", labels=["pid"]
        )
        start = GaugeMetricFamily(
            "process_start_time_seconds",
            "Start time of the process since the epoch in seconds",
            labels=["pid"],
        )
        fds = GaugeMetricFamily("process_open_fds", "Open file descriptors", labels=["pid"])
        max_fds = GaugeMetricFamily(
            "process_max_fds", "Maximum number of open file descriptors", labels=["pid"]
        )
        boot = self._boot_time()
        for pid in live_pids():
            label = [str(pid)]
            try:
                stat = (self.proc / str(pid) / "stat").read_text()
                # Fields after the parenthesised command name (which may hold spaces).
                parts = stat[stat.rindex(")") + 2 :].split()
                utime, stime, started = int(parts[11]), int(parts[12]), int(parts[19])
                vms.add_metric(label, float(parts[20]))
                rss.add_metric(label, float(int(parts[21]) * self.page))
                cpu.add_metric(label, (utime + stime) / self.ticks)
                if boot is not None:
                    start.add_metric(label, boot + started / self.ticks)
                fds.add_metric(label, float(len(os.listdir(self.proc / str(pid) / "fd"))))
                limit = self._max_fds(pid)
                if limit is not None:
                    max_fds.add_metric(label, limit)
            except (OSError, ValueError, IndexError):
                continue  # the worker exited between the listing and the read
        yield from (rss, vms, cpu, start, fds, max_fds)

    def _boot_time(self) -> float | None:
        try:
            for line in (self.proc / "stat").read_text().splitlines():
                if line.startswith("btime "):
                    return float(line.split()[1])
        except OSError:
            pass
        return None

    def _max_fds(self, pid: int) -> float | None:
        for line in (self.proc / str(pid) / "limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return None if soft == "unlimited" else float(soft)
        return None


class QueueCollector:
    """Pending, due and dead delivery rows per channel, read from the database at scrape time.

    They are the cluster's truth, the same from every process and host: aggregate them with
    ``max`` over instances, not ``sum``.
    """

    def __init__(self, app: Flask) -> None:
        """Query through ``app``'s database session."""
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """Yield the queue families, or only ``notifier_delivery_queue_up 0`` if the query fails."""
        up = GaugeMetricFamily(
            "notifier_delivery_queue_up", "1 when the delivery queue could be read at scrape time"
        )
        families: list[Metric] = []
        with self.app.app_context():
            try:
                families = list(self._families())
            except Exception as exc:  # a database outage must not take the other metrics down
                db.session.rollback()
                log.warning("metrics: could not read the delivery queue: %s", type(exc).__name__)
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        now = utcnow()
        counts: dict[tuple[str, str], int] = {}
        rows = db.session.execute(
            select(Delivery.channel, Delivery.status, func.count())
            .where(Delivery.status.in_(("pending", "dead", "digest")))
            .group_by(Delivery.channel, Delivery.status)
        ).all()
        for channel, status, n in rows:
            counts[(channel, status)] = int(n)
        due = db.session.execute(
            select(Delivery.channel, func.count(), func.min(Delivery.due_at))
            .where(Delivery.status == "pending", Delivery.due_at <= now)
            .group_by(Delivery.channel)
        ).all()
        db.session.rollback()  # reads only; do not hold a transaction open
        channels = sorted({*EXTERNAL_CHANNELS, *(c for c, _ in counts)})
        pending = GaugeMetricFamily(
            "notifier_delivery_pending",
            "Delivery rows waiting to be sent (due or not yet), digest rows included",
            labels=["channel"],
        )
        dead = GaugeMetricFamily(
            "notifier_delivery_dead", "Delivery rows given up (dead letters)", labels=["channel"]
        )
        for channel in channels:
            waiting = counts.get((channel, "pending"), 0) + counts.get((channel, "digest"), 0)
            pending.add_metric([channel], waiting)
            dead.add_metric([channel], counts.get((channel, "dead"), 0))
        due_now = GaugeMetricFamily(
            "notifier_delivery_due",
            "Pending delivery rows due now (the backlog)",
            labels=["channel"],
        )
        oldest = GaugeMetricFamily(
            "notifier_delivery_oldest_due_age_seconds",
            "Seconds the oldest due pending row has waited (0 when none is due)",
            labels=["channel"],
        )
        due_by = {channel: (int(n), first) for channel, n, first in due}
        for channel in channels:
            n, first = due_by.get(channel, (0, None))
            due_now.add_metric([channel], n)
            age = (now - first) if first is not None else timedelta(0)
            oldest.add_metric([channel], max(age.total_seconds(), 0.0))
        yield from (pending, dead, due_now, oldest)
