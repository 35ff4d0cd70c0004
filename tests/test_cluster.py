"""gunicorn with 2 gevent workers (gunicorn.conf.py) sharing Redis: any worker serves any client.

The kernel decides which worker accepts a connection, so the test opens tabs until the
workers' own published stats (Redis keys with a TTL, refreshed every 2 s) show streams on
both, then checks that one publish reaches every tab, whichever worker holds it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.fixtures_live import LiveServer
from tests.fixtures_redis import RedisServer
from tests.sse_client import SSEClient, bearer, publish, report, token_for

ALICE, BOB = "alice@example.com", "bob@example.com"


def node_stats(redis_server: RedisServer) -> dict[str, dict[str, object]]:
    """Return the stats each live worker published, by instance."""
    client = redis_server.client()
    try:
        keys = client.keys("notifier:node:*")
        values = [json.loads(v) for v in client.mget(keys) if v] if keys else []
    finally:
        client.close()
    return {str(v["instance"]): v for v in values}


def alice_streams(stats: dict[str, dict[str, object]], alice_id: int) -> dict[str, int]:
    """Return how many of alice's streams each worker reports."""
    out = {}
    for instance, s in stats.items():
        top = s["top_users"]
        assert isinstance(top, list)
        out[instance] = sum(int(t["connections"]) for t in top if t["user_id"] == alice_id)
    return out


def test_two_gunicorn_workers_share_redis(
    live_server_factory: Callable[..., LiveServer], redis_server: RedisServer, redis_url: str
) -> None:
    server = live_server_factory(
        {"REDIS_URL": redis_url, "NOTIFIER_MAX_CONNECTIONS_PER_USER": "100"},
        seed=True,
        gunicorn_workers=2,
    )
    admin, alice, bob = (token_for(server, e) for e in ("admin@example.com", ALICE, BOB))
    deadline = time.monotonic() + 30
    while len(node_stats(redis_server)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    stats = node_stats(redis_server)
    assert len(stats) == 2, stats  # each worker runs its own loops after fork
    assert all(s["mode"] == "redis" and s["redis_available"] for s in stats.values())

    tabs: list[SSEClient] = []
    bobs = [SSEClient(server.url, headers=bearer(bob)) for _ in range(4)]
    try:
        per_worker: dict[str, int] = {}
        while len(tabs) < 60:
            for _ in range(6):
                tab = SSEClient(server.url, headers=bearer(alice))
                assert tab.status == 200 and tab.wait_event("stats", timeout=15)
                tabs.append(tab)
            # Wait for both workers to publish stats that count every tab opened so far.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                per_worker = alice_streams(node_stats(redis_server), 2)
                if sum(per_worker.values()) == len(tabs):
                    break
                time.sleep(0.2)
            if len([n for n in per_worker.values() if n]) == 2:
                break
        print(f"[gunicorn] alice's {len(tabs)} tabs per worker: {per_worker}")
        assert len([n for n in per_worker.values() if n]) == 2

        sent = 10
        for i in range(sent):
            assert publish(server.url, admin, ALICE, f"n{i}") == 201
        for tab in tabs:
            assert tab.wait_logged(sent, timeout=30)
            assert tab.logged_ids == list(range(5, 5 + sent)) and tab.duplicates == 0
        report(f"gunicorn, 1 of {len(tabs)} tabs", sent, tabs[0])
        assert publish(server.url, admin, BOB, "for bob") == 201
        for tab in bobs:
            assert tab.wait_logged(1, timeout=30) and tab.logged_ids == [3]

        # SIGTERM: every stream ends with a fresh retry hint (not cut at graceful-timeout).
        for tab in tabs:
            tab.retry = None
        assert server.proc is not None
        server.proc.terminate()
        for tab in tabs:
            assert tab.wait_for(lambda c: c.eof, timeout=20)
            assert tab.retry is not None
        assert server.proc.wait(timeout=30) == 0
    finally:
        for tab in tabs + bobs:
            tab.close()
