"""The JSON stream against a real `python app.py` process (in-memory bus), over real sockets.

Each test starts its own server (tests/fixtures_live.py) on the demo data: alice has cursor 4.
Counts of sent/received/duplicate events are printed (run with -s to see them).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable

from tests.fixtures_live import LiveServer, http_json
from tests.sse_client import SSEClient, bearer, publish, report, token_for

ALICE = "alice@example.com"
Factory = Callable[..., LiveServer]


def start(factory: Factory, **env: str) -> tuple[LiveServer, str, str]:
    """Start a seeded server; return it with the admin's and alice's tokens."""
    server = factory(env, seed=True)
    return server, token_for(server, "admin@example.com"), token_for(server, ALICE)


def titles(client: SSEClient) -> list[str]:
    return [e.json()["title"] for e in client.named("notification")]


def test_first_bytes_headers_and_event_order(live_server_factory: Factory) -> None:
    server, _, alice = start(live_server_factory)
    client = SSEClient(server.url, headers=bearer(alice))
    try:
        assert client.status == 200
        assert client.response_headers["content-type"] == "text/event-stream"
        assert client.response_headers["cache-control"] == "no-cache"
        assert client.response_headers["x-accel-buffering"] == "no"
        assert client.wait_event("stats", timeout=10) is not None
        assert [e.event for e in client.events] == ["connected", "recent", "stats"]
        assert client.retry is not None and client.retry >= 2000
        assert client.events[0].json()["cursor"] == 4 and client.last_event_id == "4"
        assert len(client.events[1].json()["notifications"]) == 4
    finally:
        client.close()


def test_200_sent_while_away_arrive_once_in_order(live_server_factory: Factory) -> None:
    server, admin, alice = start(live_server_factory)
    client = SSEClient(server.url, headers=bearer(alice))
    try:
        client.wait_event("stats")
        assert publish(server.url, admin, ALICE, "before") == 201
        assert client.wait_logged(1)
        client.close()  # away
        statuses = [publish(server.url, admin, ALICE, f"away {i}") for i in range(200)]
        assert statuses == [201] * 200
        client.reconnect()  # Last-Event-ID: 5
        assert client.wait_logged(201, timeout=60)
        report("resume after away", 201, client)
        assert client.logged_ids == list(range(5, 206))
        assert client.duplicates == 0 and client.backwards == 0
        assert titles(client) == ["before"] + [f"away {i}" for i in range(200)]
        # Then live again, exactly once.
        assert publish(server.url, admin, ALICE, "live") == 201
        assert client.wait_logged(202)
        assert client.logged_ids[-1] == 206 and client.duplicates == 0
    finally:
        client.close()


def test_resume_across_a_sigkill_and_restart(live_server_factory: Factory) -> None:
    server, admin, alice = start(live_server_factory)
    client = SSEClient(server.url, headers=bearer(alice))
    try:
        client.wait_event("stats")
        for i in range(20):
            assert publish(server.url, admin, ALICE, f"live {i}") == 201
        assert client.wait_logged(20)
        # The client stops reading; 100 more are committed; the server dies without cleanup.
        for i in range(100):
            assert publish(server.url, admin, ALICE, f"before kill {i}") == 201
        server.kill()
        server.start()  # same port, same database
        for i in range(80):
            assert publish(server.url, admin, ALICE, f"after restart {i}") == 201
        # The client drains what reached it before the kill, sees the end, and resumes.
        assert client.wait_for(lambda c: c.eof, timeout=30)
        client.reconnect()
        assert client.wait_logged(200, timeout=60)
        report("resume across SIGKILL", 200, client)
        assert client.logged_ids == list(range(5, 205))
        assert client.duplicates == 0 and client.backwards == 0
        assert titles(client) == (
            [f"live {i}" for i in range(20)]
            + [f"before kill {i}" for i in range(100)]
            + [f"after restart {i}" for i in range(80)]
        )
    finally:
        client.close()


def test_ping_arrives(live_server_factory: Factory) -> None:
    server, _, alice = start(live_server_factory, NOTIFIER_PING_INTERVAL="1")
    client = SSEClient(server.url, headers=bearer(alice))
    try:
        ping = client.wait_event("ping", timeout=15)
        assert ping is not None and set(ping.json()) == {"timestamp"}
        assert ping.json()["timestamp"].endswith("Z")
    finally:
        client.close()


def test_connection_limit_and_a_closed_connection_frees_its_slot(
    live_server_factory: Factory,
) -> None:
    server, _, alice = start(
        live_server_factory, NOTIFIER_MAX_CONNECTIONS_PER_USER="2", NOTIFIER_PING_INTERVAL="1"
    )
    tabs = [SSEClient(server.url, headers=bearer(alice)) for _ in range(2)]
    try:
        assert all(t.status == 200 and t.wait_event("connected") for t in tabs)
        over = SSEClient(server.url, headers=bearer(alice))
        assert over.status == 429
        assert over.response_headers["retry-after"] == "2"
        assert over.json_body()["error"]["code"] == "too_many_connections"
        over.close()
        tabs[0].close()  # FIN; nothing is written to it until the next ping
        closed_at = time.monotonic()
        status = 0
        while status != 200 and time.monotonic() - closed_at < 15:
            retry = SSEClient(server.url, headers=bearer(alice))
            status = retry.status
            if status == 200:
                tabs.append(retry)
            else:
                retry.close()
                time.sleep(0.1)
        print(f"[slot freed] {time.monotonic() - closed_at:.2f}s after close (ping interval 1s)")
        assert status == 200
    finally:
        for t in tabs:
            t.close()


def connections(server: LiveServer, token: str) -> int:
    status, body = http_json(
        "GET", server.url + "/api/v1/notifications/stream/connections", headers=bearer(token)
    )
    assert status == 200
    return int(body["mine"])


def test_a_vanished_client_leaves_the_counts_within_one_cleanup_interval(
    live_server_factory: Factory,
) -> None:
    # Pings are 25 s apart here: it is the cleanup loop (every 2 s) that notices.
    server, _, alice = start(live_server_factory, NOTIFIER_CLEANUP_INTERVAL="2")
    closed = SSEClient(server.url, headers=bearer(alice))
    crashed = SSEClient(server.url, headers=bearer(alice))
    try:
        assert closed.wait_event("stats") and crashed.wait_event("stats")
        assert connections(server, alice) == 2
        closed.close()  # FIN
        crashed.abort()  # RST, as from a crashed client
        gone_at = time.monotonic()
        while connections(server, alice) and time.monotonic() - gone_at < 20:
            time.sleep(0.1)
        print(f"[vanished] counts cleared {time.monotonic() - gone_at:.2f}s later (cleanup 2s)")
        assert connections(server, alice) == 0
    finally:
        closed.close()
        crashed.close()


def test_stream_token_expires_and_is_never_logged(live_server_factory: Factory) -> None:
    server, _, alice = start(live_server_factory, NOTIFIER_STREAM_TOKEN_TTL="2")
    status, body = http_json("POST", server.url + "/api/v1/stream-token", {}, headers=bearer(alice))
    assert status == 200 and body["expires_in"] == 2
    token = body["token"]
    path = f"/api/v1/notifications/stream?token={token}"
    client = SSEClient(server.url, path)
    assert client.status == 200 and client.wait_event("connected").json()["user_id"] == 2
    client.close()
    # Wait for the server to see the token expire (itsdangerous counts whole seconds): try
    # again until it is refused, then check how.
    deadline = time.monotonic() + 30
    while True:
        late = SSEClient(server.url, path)
        if late.status != 200 or time.monotonic() > deadline:
            break
        late.close()
        time.sleep(0.2)
    assert late.status == 401 and late.json_body()["error"]["code"] == "invalid_token"
    late.close()
    server.stop()  # flush the access log
    log = server.log()
    assert "/api/v1/notifications/stream?…" in log
    assert token not in log and token[:16] not in log


def test_a_client_that_stops_reading_does_not_delay_others_and_catches_up(
    live_server_factory: Factory,
) -> None:
    server, admin, alice = start(live_server_factory, NOTIFIER_QUEUE_SIZE="16")
    body = "x" * 8000  # big events fill the slow client's 4 KB window quickly
    slow = SSEClient(server.url, headers=bearer(alice), rcvbuf=4096)
    fast = SSEClient(server.url, headers=bearer(alice))
    try:
        assert slow.wait_event("stats") and fast.wait_event("stats")
        sent = 150
        statuses: list[int] = []
        sender = threading.Thread(
            target=lambda: statuses.extend(
                publish(server.url, admin, ALICE, f"n{i}", body) for i in range(sent)
            )
        )
        sender.start()
        assert fast.wait_logged(sent, timeout=60)  # read while sending: never held up
        sender.join(timeout=60)
        assert statuses == [201] * sent
        assert fast.logged_ids == list(range(5, 5 + sent))
        # Now the slow tab reads: what was buffered, then the end of its dropped stream,
        # then it resumes from its last id and catches up.
        while len(set(slow.logged_ids)) < sent:
            assert slow.wait_for(lambda c: c.eof or len(set(c.logged_ids)) >= sent, 60)
            if len(set(slow.logged_ids)) < sent:
                slow.reconnect()
        report("slow client", sent, slow)
        report("fast client", sent, fast)
        assert slow.connections >= 2  # it was dropped at least once
        assert slow.logged_ids == list(range(5, 5 + sent)) and slow.duplicates == 0
    finally:
        slow.close()
        fast.close()


def test_sigterm_ends_streams_with_a_retry_hint(live_server_factory: Factory) -> None:
    server, _, alice = start(live_server_factory)
    client = SSEClient(server.url, headers=bearer(alice))
    client.wait_event("stats")
    client.retry = None
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert client.wait_for(lambda c: c.eof, timeout=20)
    assert client.retry is not None  # the farewell told it when to come back
    assert server.proc.wait(timeout=20) == 0
    assert "Notifier stopped" in server.log()
    client.close()


def test_unusable_cursors_get_reset_then_the_stream_goes_on(live_server_factory: Factory) -> None:
    server, admin, alice = start(live_server_factory)
    # What the pruning loop records after deleting alice's events 1-3 (retention).
    db = sqlite3.connect(server.workdir / "live.sqlite")
    with db:
        db.execute("UPDATE event_cursors SET pruned_through = 3 WHERE user_id = 2")
    db.close()
    cases = {"garbage": "invalid_cursor", "999": "unknown_cursor", "2": "cursor_expired"}
    for cursor, reason in cases.items():
        client = SSEClient(server.url, headers=bearer(alice), last_event_id=cursor)
        try:
            assert client.status == 200
            reset = client.wait_event("reset", timeout=10)
            assert reset is not None and reset.json() == {"reason": reason}
            assert [e.event for e in client.events] == ["connected", "reset", "stats"]
            assert client.last_event_id == "4"  # it continues from the current cursor
        finally:
            client.close()
    client = SSEClient(server.url, headers=bearer(alice), last_event_id="3")  # at the edge: fine
    try:
        assert client.wait_event("stats") is not None
        assert client.logged_ids == [4] and not client.named("reset")
    finally:
        client.close()
