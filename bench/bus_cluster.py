"""One Redis vs a 3-primary Redis Cluster as the bus: what each process receives and pays.

Two brokers in this process stand for two app processes; each holds one stream for half of
the users. A tenant broadcast (one message per user) is published ``--rounds`` times; the
script reports, per bus, the messages each "process" decoded (one Redis: every message;
the cluster: only its own users'), the publisher's CPU per broadcast and the time until
every stream had its message. Starts its own redis-server and cluster on loopback.

    PYTHONPATH=. .venv/bin/python bench/bus_cluster.py --users 2000 --rounds 5
"""

# ruff: noqa: E402 - the imports below must come after the patch
from gevent import monkey

monkey.patch_all()  # the brokers refuse unpatched sockets (bus.base.require_patched)

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent

from notifier.bus import Hub, Message, RedisBroker, broadcast
from notifier.bus.base import Broker
from notifier.bus.cluster import ClusterBroker
from tests.fixtures_redis import RedisServer
from tests.fixtures_redis_cluster import RedisClusterServers


def run(kind: str, url: str, users: int, rounds: int) -> dict[str, Any]:
    """Publish ``rounds`` broadcasts to ``users`` users over two brokers; return the numbers."""
    hubs = [Hub(queue_size=rounds + 8, max_total=users + 10) for _ in range(2)]
    cls = ClusterBroker if kind == "cluster" else RedisBroker
    brokers: list[Broker] = [cls(h, url, instance=f"bench-{i}") for i, h in enumerate(hubs)]
    decoded = [0, 0]

    def counter(i: int) -> Any:
        def count(sender: Hub, messages: Any, **_: Any) -> None:
            decoded[i] += len(messages)

        return count

    handlers = [counter(i) for i in range(2)]
    for hub, handler in zip(hubs, handlers, strict=True):
        broadcast.connect(handler, sender=hub, weak=False)
    for b in brokers:
        b.start()
    subs = [hubs[u % 2].subscribe(u + 1, 1) for u in range(users)]
    cpu, wall = [], []
    try:
        for r in range(rounds):
            batch = [Message(u + 1, 1, r + 1, "notification", {"n": r}) for u in range(users)]
            t0, c0 = time.perf_counter(), time.process_time()
            assert brokers[0].publish(batch)
            cpu.append(time.process_time() - c0)
            while any(s.queue.qsize() < r + 1 for s in subs):
                gevent.sleep(0.001)
            wall.append(time.perf_counter() - t0)
    finally:
        for hub, handler in zip(hubs, handlers, strict=True):
            broadcast.disconnect(handler, sender=hub)
        for b in brokers:
            b.stop()
    return {
        "bus": kind,
        "decoded_per_process": [d // rounds for d in decoded],
        "publish_cpu_ms": round(1000 * sorted(cpu)[len(cpu) // 2], 1),
        "all_delivered_ms": round(1000 * sorted(wall)[len(wall) // 2], 1),
    }


def main() -> None:
    """Start both Redis set-ups, run the same broadcasts on each, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bus-bench-"))
    single, cluster = RedisServer(work), RedisClusterServers(work)
    single.start()
    cluster.start()
    try:
        rows = [
            run("redis", single.url, args.users, args.rounds),
            run("cluster", cluster.url, args.users, args.rounds),
        ]
    finally:
        single.stop()
        cluster.stop()
    print(f"{args.users} users, one stream each, split over 2 brokers; median of {args.rounds}")
    print("| bus | messages decoded per process per broadcast | publish CPU | all delivered |")
    print("|---|---|---|---|")
    for r in rows:
        per = " / ".join(str(d) for d in r["decoded_per_process"])
        print(f"| {r['bus']} | {per} | {r['publish_cpu_ms']} ms | {r['all_delivered_ms']} ms |")


if __name__ == "__main__":
    main()
