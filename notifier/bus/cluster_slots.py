"""Where each channel lives in a Redis Cluster: the seed list from the URL and the slot map.

``redis+cluster://[:password@]host:port[,host:port…]`` names one or more seed nodes (any
node will do: the map comes from ``CLUSTER SLOTS``). :class:`SlotMap` answers "which primary
serves this channel" from the CRC16 hash slot, as Redis does for SPUBLISH and SSUBSCRIBE,
and is refreshed after a lost connection, a MOVED answer or a slot migration.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import redis
from redis.crc import key_slot
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CLUSTER_SCHEMES = ("redis+cluster://", "redis://")
ERRORS = (RedisError, OSError)


class SlotUncovered(RedisError):
    """No primary serves this channel's hash slot right now (a failover is under way)."""


@dataclass(frozen=True, slots=True)
class Node:
    """One primary: ``name`` is ``host:port``, as CLUSTER SLOTS and MOVED spell it."""

    host: str
    port: int

    @property
    def name(self) -> str:
        """Return ``host:port``."""
        return f"{self.host}:{self.port}"


def parse_cluster_url(url: str) -> tuple[list[Node], str | None]:
    """Return the seed nodes and the password of a ``redis+cluster://`` (or redis://) URL."""
    for scheme in CLUSTER_SCHEMES:
        if url.startswith(scheme):
            rest = url[len(scheme) :]
            break
    else:
        raise ValueError("a Redis Cluster URL starts with redis+cluster:// (or redis://)")
    netloc = rest.split("/", 1)[0].split("?", 1)[0]
    auth, _, hosts = netloc.rpartition("@")
    password = unquote(auth.partition(":")[2]) if auth else None
    seeds = []
    for item in filter(None, hosts.split(",")):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a Redis Cluster seed must be host:port, not {item!r}")
        seeds.append(Node(host.strip("[]"), int(port)))
    if not seeds:
        raise ValueError("a Redis Cluster URL names at least one host:port")
    return seeds, password or None


def slot_of(channel: str) -> int:
    """Return the hash slot of a channel name (hash tags in braces count, as in Redis)."""
    return int(key_slot(channel.encode()))


class SlotMap:
    """The cluster's slot ranges and their primaries, refreshed from any reachable node."""

    def __init__(self, seeds: list[Node], options: dict[str, Any]) -> None:
        self.seeds = list(seeds)
        self.options = options
        self._starts: list[int] = []
        self._ranges: list[tuple[int, int, Node]] = []
        self.primaries: dict[str, Node] = {}

    @property
    def known(self) -> bool:
        """Return True once a refresh succeeded."""
        return bool(self._ranges)

    def refresh(self) -> None:
        """Ask each known node in turn for CLUSTER SLOTS; raise the last error if none answers."""
        candidates = list(dict.fromkeys([*self.primaries.values(), *self.seeds]))
        error: Exception | None = None
        for node in candidates:
            client = redis.Redis(host=node.host, port=node.port, **self.options)
            try:
                reply = client.execute_command("CLUSTER SLOTS")
            except ERRORS as exc:
                error = exc
                continue
            finally:
                client.close()
            self._load(reply, node)
            return
        raise error or SlotUncovered("no cluster node to ask")

    def _load(self, reply: list[Any], asked: Node) -> None:
        ranges = []
        for entry in reply:
            start, end, primary = int(entry[0]), int(entry[1]), entry[2]
            host = primary[0].decode() if isinstance(primary[0], bytes) else str(primary[0])
            # An empty or "?" host means "the address you reached me on" (cluster-announce).
            ranges.append(
                (start, end, Node(host if host not in ("", "?") else asked.host, int(primary[1])))
            )
        ranges.sort(key=lambda r: r[0])
        self._ranges = ranges
        self._starts = [r[0] for r in ranges]
        self.primaries = {r[2].name: r[2] for r in ranges}

    def node_for(self, channel: str) -> Node:
        """Return the primary serving ``channel``; raise SlotUncovered when none does."""
        slot = slot_of(channel)
        i = bisect_right(self._starts, slot) - 1
        if i < 0 or self._ranges[i][1] < slot:
            raise SlotUncovered(f"hash slot {slot} is not served")
        return self._ranges[i][2]
