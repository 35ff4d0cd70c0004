"""The time-to-screen histogram: publish → rendered in a browser, per tenant (on /metrics)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Histogram

from notifier.metrics import REGISTRY

TIME_TO_SCREEN = Histogram(
    "notifier_time_to_screen_seconds",
    "Seconds from publish to the notification rendered in a browser tab (acknowledged by it)",
    ["tenant"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)


def observe(tenant_id: int, latencies: Iterable[float]) -> None:
    """Add one sample per acknowledged notification to the tenant's histogram."""
    child = TIME_TO_SCREEN.labels(tenant=str(tenant_id))
    for seconds in latencies:
        child.observe(seconds)
