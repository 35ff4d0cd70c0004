"""Count delivery outcomes per channel in this process, for the dashboard and /metrics."""

from __future__ import annotations

import threading

from notifier import metrics_delivery

OUTCOMES = ("sent", "failed", "dead")


class DeliveryStats:
    """Thread-safe counters of delivery rows by outcome and channel.

    ``sent``: delivered; ``failed``: a transient failure that will be retried; ``dead``: given
    up (permanent failure, attempts exhausted, or nothing to send to). A digest that carries
    three rows counts three. The counters are per process and start at zero; the database
    (``service.deliveries.counts_by_channel``) is the cluster-wide truth.
    """

    def __init__(self) -> None:
        """Start every counter at zero."""
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def incr(self, outcome: str, channel: str, n: int = 1) -> None:
        """Add ``n`` to the counter of ``outcome`` for ``channel``."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown delivery outcome {outcome!r}")
        with self._lock:
            key = (outcome, channel)
            self._counts[key] = self._counts.get(key, 0) + n
        metrics_delivery.record_outcome(outcome, channel, n)  # /metrics, summed over workers

    def get(self, outcome: str, channel: str) -> int:
        """Return one counter."""
        with self._lock:
            return self._counts.get((outcome, channel), 0)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Return ``{outcome: {channel: n}}`` with every outcome present."""
        out: dict[str, dict[str, int]] = {outcome: {} for outcome in OUTCOMES}
        with self._lock:
            for (outcome, channel), n in self._counts.items():
                out[outcome][channel] = n
        return out

    def reset(self) -> None:
        """Set every counter back to zero (tests)."""
        with self._lock:
            self._counts.clear()


stats = DeliveryStats()
