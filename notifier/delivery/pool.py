"""Send claims concurrently: one bounded gevent pool per channel, every send under a deadline.

Why: one process used to send one claim at a time, so a frozen SMTP server (each send waiting
out its timeout) held up every later email and every webhook behind it. Now each channel has
its own pool of ``NOTIFIER_DELIVERY_CONCURRENCY`` greenlets. A frozen channel ties up only its
own pool; the tick claims no rows for a channel whose pool is full, so no claim waits in memory
while its lease runs, and the other channels go on.

Deadline: each ``Channel.send`` gets ``NOTIFIER_DELIVERY_TIMEOUT`` seconds as a whole (a
``gevent.Timeout`` on top of the channels' socket timeouts, which the same key lowers), and
never more than the claim's lease has left minus :data:`MARGIN`, so the outcome is always
written while the lease is still this worker's. :func:`lease_for` makes the lease long enough
for that: a send, the channel's own clean-up after a timeout (one more socket timeout), and
planning and recording.

Each greenlet gets plain data (a :class:`~notifier.delivery.claim.Claim` of copied rows) and
pushes its own app context, so it has its own database session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import gevent
import gevent.pool

from notifier.channels import Channel, DeliveryJob, TransientError
from notifier.delivery.claim import LEASE
from notifier.models import utcnow

# Kept free at the end of a lease for writing the outcome, and at its start for planning.
MARGIN = timedelta(seconds=30)
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 10


def timeout_for(cfg: Mapping[str, Any]) -> float:
    """Return the seconds one send may take (NOTIFIER_DELIVERY_TIMEOUT)."""
    return float(cfg.get("NOTIFIER_DELIVERY_TIMEOUT") or DEFAULT_TIMEOUT)


def lease_for(cfg: Mapping[str, Any]) -> timedelta:
    """Return how long a claim is held: LEASE, or longer when the send timeout needs it.

    Two timeouts (the send, then the channel's clean-up such as SMTP QUIT to a frozen
    server) plus MARGIN at both ends, so a timed-out send is still recorded under its lease.
    """
    return max(LEASE, 2 * timedelta(seconds=timeout_for(cfg)) + 2 * MARGIN)


class Bounded(Channel):
    """A channel whose every send ends in time: its timeout, and before the claim's lease."""

    def __init__(self, channel: Channel, timeout: float, lease: datetime) -> None:
        """Wrap ``channel`` for one claim held until ``lease``."""
        self.channel = channel
        self.name = channel.name
        self.timeout = timeout
        self.deadline = lease - MARGIN

    def send(self, job: DeliveryJob) -> None:
        """Send through the wrapped channel; a send past its time is a transient failure."""
        left = min(self.timeout, (self.deadline - utcnow()).total_seconds())
        if left <= 0:
            raise TransientError("not sent: the claim's lease ran short before this target")
        timer = gevent.Timeout(left)
        try:
            with timer:
                self.channel.send(job)
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            raise TransientError(f"no answer within {left:g} s") from None


class Pools:
    """One bounded gevent pool per channel name, created on first use."""

    def __init__(self, size: int) -> None:
        """Allow ``size`` sends in flight per channel."""
        self.size = max(1, int(size))
        self._pools: dict[str, gevent.pool.Pool] = {}

    def _pool(self, channel: str) -> gevent.pool.Pool:
        pool = self._pools.get(channel)
        if pool is None:
            pool = self._pools[channel] = gevent.pool.Pool(self.size)
        return pool

    def full(self) -> list[str]:
        """Return the channels with no free slot: the tick claims nothing for them."""
        return sorted(name for name, pool in self._pools.items() if pool.full())

    def has_room(self, channel: str) -> bool:
        """Tell whether one more send of ``channel`` can start now."""
        return not self._pool(channel).full()

    def spawn(self, channel: str, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the channel's pool (call only when :meth:`has_room`)."""
        self._pool(channel).spawn(fn, *args)

    def busy(self) -> dict[str, int]:
        """Return the sends in flight per channel."""
        return {name: len(pool) for name, pool in self._pools.items() if len(pool)}

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every send in flight; True when all finished within ``timeout``."""
        pools = list(self._pools.values())
        greenlets = [g for pool in pools for g in pool]
        done = gevent.joinall(greenlets, timeout=timeout)
        return len(done) == len(greenlets)

    def kill(self) -> None:
        """Stop the sends still in flight; their rows stay leased and are sent again later."""
        for pool in self._pools.values():
            pool.kill(block=True, timeout=1)
