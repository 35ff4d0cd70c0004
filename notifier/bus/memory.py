"""Deliver bus messages inside one process: the default when REDIS_URL is unset."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from notifier.bus.base import Broker, Item
from notifier.bus.hub import Hub


class MemoryBroker(Broker):
    """Hand published messages straight to the local hub.

    Single process only: a message published in one process never reaches streams held by
    another (a second gunicorn worker, a CLI command, another host). Run one process, or
    set REDIS_URL. Node stats stay local: cluster_stats() returns this process's alone.
    """

    mode = "memory"

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self._node: tuple[dict[str, Any], float] | None = None

    def publish(self, messages: Sequence[Item]) -> bool:
        """Deliver to the hub at once; there is no transport to be down."""
        if messages:
            self.hub.deliver(messages)
        return True

    def publish_node_stats(self, instance: str, stats: dict[str, Any], ttl: int) -> None:
        """Keep this process's stats for cluster_stats() until ``ttl`` seconds pass."""
        self._node = ({**stats, "instance": instance}, time.monotonic() + ttl)

    def cluster_stats(self) -> list[dict[str, Any]]:
        """Return this process's stats if published and not expired."""
        if self._node is None or self._node[1] < time.monotonic():
            return []
        return [dict(self._node[0])]
