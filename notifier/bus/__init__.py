"""Carry events from the service layer to every process's stream subscriptions.

``make_broker`` picks the backend: the in-memory broker when no Redis URL is configured
(one process), the Redis broker otherwise. Build it in create_app, start it in
start_workers (after any fork), stop it on shutdown.
"""

from __future__ import annotations

from notifier.bus.base import Broker, Message, decode_batch, encode_batch
from notifier.bus.control import CLOSE_EVENT, Credential, close_message
from notifier.bus.hub import (
    Hub,
    Subscription,
    TooManyConnections,
    broadcast,
    connected,
    disconnected,
)
from notifier.bus.memory import MemoryBroker
from notifier.bus.redis import RedisBroker

__all__ = [
    "CLOSE_EVENT",
    "Broker",
    "Credential",
    "Hub",
    "MemoryBroker",
    "Message",
    "RedisBroker",
    "Subscription",
    "TooManyConnections",
    "broadcast",
    "close_message",
    "connected",
    "decode_batch",
    "disconnected",
    "encode_batch",
    "make_broker",
]


def make_broker(redis_url: str | None, hub: Hub, instance: str, *, cluster: bool = False) -> Broker:
    """Return a RedisBroker for ``redis_url`` (redis://, rediss://, unix://), else memory.

    ``cluster`` (or a redis+cluster:// URL) selects the sharded pub/sub ClusterBroker.
    """
    if not redis_url:
        return MemoryBroker(hub)
    if cluster or redis_url.startswith("redis+cluster://"):
        from notifier.bus.cluster import ClusterBroker

        return ClusterBroker(hub, redis_url, instance=instance)
    return RedisBroker(hub, redis_url, instance=instance)
