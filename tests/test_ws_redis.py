"""The WebSocket stream across processes: two servers on one Redis, and behind nginx.

Sockets on both processes lose nothing across a Redis outage (killed under them, restarted),
a reconnect resumes exactly on the other process, and nginx with the upgrade configuration of
docs/deployment.md carries the socket (tests/fixtures_nginx.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.fixtures_live import LiveServer
from tests.fixtures_nginx import NginxProxy
from tests.fixtures_redis import RedisServer
from tests.sse_client import bearer, publish, token_for
from tests.ws_client import WsClient

ALICE = "alice@example.com"
Factory = Callable[..., LiveServer]


def test_redis_outage_and_resume_on_the_other_process_are_exactly_once(
    live_server_factory: Factory, redis_server: RedisServer, redis_url: str
) -> None:
    a = live_server_factory({"REDIS_URL": redis_url}, seed=True)
    b = live_server_factory({"REDIS_URL": redis_url}, init=False)
    admin, alice = token_for(a, "admin@example.com"), token_for(a, ALICE)
    sockets = [WsClient(s.url, bearer(alice)).connect() for s in (a, b)]
    try:
        for ws in sockets:
            ws.until("stats")
        for i in range(10):
            assert publish((a, b)[i % 2].url, admin, ALICE, f"before {i}") == 201
        assert all(ws.wait_logged(10) for ws in sockets)
        redis_server.kill()
        statuses = [publish((a, b)[i % 2].url, admin, ALICE, f"during {i}") for i in range(50)]
        assert statuses == [201] * 50  # committed while the bus is down
        redis_server.start()  # the listeners re-subscribe; the sockets replay the gap
        assert all(ws.wait_logged(60, timeout=120) for ws in sockets)
        for name, ws in zip("ab", sockets, strict=True):
            print(f"ws redis outage on {name}: sent 60, got {len(ws.logged_ids)}")
            assert ws.logged_ids == list(range(5, 65))
            assert ws.duplicates == 0 and ws.backwards == 0 and ws.connections == 1
        # The socket on a drops; it resumes on b (as a proxy would send it) exactly.
        moved = sockets[0]
        moved.abort()
        for i in range(20):
            assert publish(a.url, admin, ALICE, f"away {i}") == 201
        moved.base_url = b.url
        moved.connect(resume=moved.last_id)
        assert moved.wait_logged(80)
        assert moved.logged_ids == list(range(5, 85)) and moved.duplicates == 0
    finally:
        for ws in sockets:
            ws.close()


def test_behind_nginx_with_the_upgrade_config(live_server: LiveServer, tmp_path: Path) -> None:
    admin, alice = token_for(live_server, "admin@example.com"), token_for(live_server, ALICE)
    proxy = NginxProxy(tmp_path / "nginx", live_server.port).start()
    ws = WsClient(proxy.url, bearer(alice)).connect()
    try:
        assert ws.until("connected")["data"]["cursor"] == 4
        for i in range(5):
            assert publish(proxy.url, admin, ALICE, f"via nginx {i}") == 201
        assert ws.wait_logged(5)
        nid = ws.named("notification")[0]["data"]["id"]
        ws.send({"op": "read", "ids": [nid]})  # client → server through the proxy too
        assert ws.until("ack")["data"]["updated"] == 1
        assert ws.until("update")["data"] == {"action": "read", "ids": [nid]}
        ws.abort()
        assert publish(proxy.url, admin, ALICE, "while away") == 201
        ws.connect(resume=ws.last_id)
        assert ws.wait_logged(7)
        assert ws.logged_ids == list(range(5, 12)) and ws.duplicates == 0
    finally:
        ws.close()
        proxy.stop()
