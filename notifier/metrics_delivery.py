"""Count delivery rows by outcome and time each send, per channel, for /metrics.

``notifier_deliveries_total{channel, outcome}`` counts rows as the delivery loop records them
(sent, failed = will be retried, dead); ``notifier_delivery_attempts_total{channel, result}``
counts calls to a channel's ``send`` and ``notifier_delivery_send_seconds{channel}`` times them.
The queue itself (pending, due, dead rows) is read from the database at scrape time in
:mod:`notifier.metrics_export`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from notifier.channels.base import PermanentError, TransientError
from notifier.metrics import REGISTRY

CHANNELS = ("email", "push", "sms", "webhook", "chat")
OUTCOMES = ("sent", "failed", "dead")
DELIVERIES = Counter(
    "notifier_deliveries",
    "Delivery rows recorded, by channel and outcome (failed: retried later)",
    ["channel", "outcome"],
    registry=REGISTRY,
)
ATTEMPTS = Counter(
    "notifier_delivery_attempts",
    "Sends tried through a channel, by result (ok, transient, permanent, error)",
    ["channel", "result"],
    registry=REGISTRY,
)
SEND_SECONDS = Histogram(
    "notifier_delivery_send_seconds",
    "Seconds one send through a channel took, whatever its result",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
# Every series from zero, so rate() sees the first event and dashboards show the channels.
for _channel in CHANNELS:
    for _outcome in OUTCOMES:
        DELIVERIES.labels(_channel, _outcome)
    SEND_SECONDS.labels(_channel)


def record_outcome(outcome: str, channel: str, rows: int) -> None:
    """Count ``rows`` delivery rows of ``channel`` recorded as ``outcome``."""
    DELIVERIES.labels(channel, outcome).inc(rows)


@contextmanager
def attempt(channel: str) -> Iterator[None]:
    """Time one send through ``channel`` and count it by how it ended; re-raise its error."""
    started = time.perf_counter()
    result = "error"
    try:
        yield
        result = "ok"
    except TransientError:
        result = "transient"
        raise
    except PermanentError:
        result = "permanent"
        raise
    finally:
        SEND_SECONDS.labels(channel).observe(time.perf_counter() - started)
        ATTEMPTS.labels(channel, result).inc()
