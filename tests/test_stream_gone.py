"""Closed stream sockets leave the counts within seconds, not at the next ping (issue 8 item 7).

Each stream socket is watched for readability: an SSE client sends nothing after its request,
so a readable socket whose peer shut down means the client is gone. Pings here are 25 s apart
and the cleanup loop runs every 30 s, so before the watch the counts stayed high (20 of which
10 were dead) until the next ping, and the dead streams held their user's slots. Both servers:
`python app.py` (``notifier.socket``) and gunicorn's gevent worker (``gunicorn.socket``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.fixtures_live import LiveServer, http_json
from tests.sse_client import SSEClient, bearer, token_for

ALICE = "alice@example.com"
LIMIT = 20
Factory = Callable[..., LiveServer]


def mine(server: LiveServer, token: str) -> int:
    """Return the caller's open streams as /stream/connections reports them."""
    status, body = http_json(
        "GET", server.url + "/api/v1/notifications/stream/connections", headers=bearer(token)
    )
    assert status == 200
    return int(body["mine"])


def wait_count(server: LiveServer, token: str, want: int, timeout: float) -> tuple[int, float]:
    """Poll the count until it equals ``want`` or ``timeout`` passes; return (count, seconds)."""
    start = time.monotonic()
    count = mine(server, token)
    while count != want and time.monotonic() - start < timeout:
        time.sleep(0.05)
        count = mine(server, token)
    return count, time.monotonic() - start


@pytest.mark.parametrize("gunicorn_workers", [0, 1], ids=["app.py", "gunicorn"])
def test_closed_streams_free_counts_and_slots_within_seconds(
    live_server_factory: Factory, gunicorn_workers: int
) -> None:
    server = live_server_factory(
        {"NOTIFIER_MAX_CONNECTIONS_PER_USER": str(LIMIT)},
        seed=True,
        gunicorn_workers=gunicorn_workers,  # one worker: /connections counts the whole server
    )
    alice = token_for(server, ALICE)
    streams = [SSEClient(server.url, headers=bearer(alice)) for _ in range(LIMIT)]
    fresh: list[SSEClient] = []
    try:
        # Everything the server had to write is written: nothing is pending on these sockets.
        assert all(s.status == 200 and s.wait_event("stats", timeout=15) for s in streams)
        assert mine(server, alice) == LIMIT
        for s in streams[:5]:
            s.close()  # FIN
        for s in streams[5:10]:
            s.abort()  # RST, as from a crashed client
        count, took = wait_count(server, alice, LIMIT - 10, timeout=3)
        print(f"[gone] {LIMIT} streams, 10 closed: count {count} after {took:.2f}s")
        assert count == LIMIT - 10

        # The freed slots are usable at once, and the limit still holds after them.
        fresh = [SSEClient(server.url, headers=bearer(alice)) for _ in range(10)]
        assert [s.status for s in fresh] == [200] * 10
        over = SSEClient(server.url, headers=bearer(alice))
        assert over.status == 429
        assert over.json_body()["error"]["code"] == "too_many_connections"
        over.close()
        # The survivors were not disturbed by their neighbours leaving.
        assert all(not s.eof for s in streams[10:])
    finally:
        for s in streams + fresh:
            s.close()
