"""Measure the WebSocket stream against the SSE stream on one `python app.py` (issue 13).

Two numbers per transport, on the same server (SQLite, in-memory bus):

* server CPU per delivered message: K streams of one user, M targeted POSTs to that user;
  the server's CPU over the round, minus M times the CPU of a POST with no stream open,
  divided by the K × M messages delivered;
* time to resume: one stream drops, R notifications are published while it is away, then it
  reconnects after its last id (``Last-Event-ID`` / ``{"op": "resume"}``); the time from the
  new connection to the R-th replayed event (median of the runs).

Loopback only; the clients (websocket-client and the tests' raw-socket SSE client) run in
threads of this process, so the server's CPU is read from /proc, not wall time.

    PYTHONPATH=. .venv/bin/python scripts/ws_vs_sse.py --streams 100 --posts 50 --resume 500
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.procstat import cpu_seconds
from tests.fixtures_live import LiveServer
from tests.sse_client import SSEClient, bearer, publish, token_for
from tests.ws_client import WsClient

ALICE = "alice@example.com"


def open_client(kind: str, server: LiveServer, token: str) -> Any:
    """Return a connected stream of ``kind`` that has read its opening events."""
    if kind == "ws":
        ws = WsClient(server.url, bearer(token)).connect(timeout=60)
        ws.until("stats", timeout=60)
        return ws
    sse = SSEClient(server.url, headers=bearer(token))
    assert sse.wait_event("stats", timeout=60) is not None
    return sse


def wait_all(clients: list[Any], count: int, timeout: float = 120) -> bool:
    """Read every client in its own thread until each has ``count`` logged events."""
    done: list[bool] = []
    threads = [
        threading.Thread(target=lambda c=c: done.append(c.wait_logged(count, timeout=timeout)))
        for c in clients
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return all(done) and len(done) == len(clients)


def post_round(server: LiveServer, admin: str, posts: int, label: str) -> None:
    for i in range(posts):
        assert publish(server.url, admin, ALICE, f"{label} {i}") == 201


def delivery_cost(server: LiveServer, admin: str, alice: str, kind: str, k: int, m: int) -> float:
    """Return server CPU µs per delivered message for ``k`` streams of ``kind``."""
    pid = server.proc.pid if server.proc else 0
    before = cpu_seconds(pid)
    post_round(server, admin, m, "baseline")
    per_post = (cpu_seconds(pid) - before) / m
    clients = [open_client(kind, server, alice) for _ in range(k)]
    base = [len(c.logged_ids) for c in clients]
    try:
        before = cpu_seconds(pid)
        post_round(server, admin, m, kind)
        assert wait_all(clients, base[0] + m), "not every stream got every message"
        spent = cpu_seconds(pid) - before
    finally:
        for c in clients:
            c.close()
    return (spent - per_post * m) / (k * m) * 1e6


def resume_time(server: LiveServer, admin: str, alice: str, kind: str, r: int) -> float:
    """Return seconds from reconnecting to the r-th replayed event of the gap."""
    client = open_client(kind, server, alice)
    client.close() if kind == "sse" else client.abort()
    if kind == "sse":
        last = client.logged_ids[-1] if client.logged_ids else None
        connected = client.named("connected")[-1].json()["cursor"]
        client.last_event_id = str(last if last is not None else connected)
    post_round(server, admin, r, "away")
    had = len(client.logged_ids)
    start = time.monotonic()
    if kind == "ws":
        client.connect(resume=client.last_id, timeout=60)
    else:
        client.connect(timeout=60)
    ok = client.wait_logged(had + r, timeout=120)
    took = time.monotonic() - start
    client.close()
    assert ok and client.duplicates == 0, f"{kind}: resume incomplete or duplicated"
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--resume", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "NOTIFIER_MAX_CONNECTIONS_PER_USER": str(args.streams * 4 + 10),
            "NOTIFIER_MAX_CONNECTIONS": str(args.streams * 4 + 100),
        }
        server = LiveServer(Path(tmp), env)
        server.flask("init-db")
        server.flask("seed-demo")
        server.start()
        try:
            admin, alice = token_for(server, "admin@example.com"), token_for(server, ALICE)
            for kind in ("sse", "ws", "sse", "ws"):  # alternate: the machine's load drifts
                cost = delivery_cost(server, admin, alice, kind, args.streams, args.posts)
                print(
                    f"{kind}: {cost:.0f} µs server CPU per delivered message "
                    f"({args.streams} streams x {args.posts} POSTs)",
                    flush=True,
                )
            for kind in ("sse", "ws"):
                took = [
                    resume_time(server, admin, alice, kind, args.resume) for _ in range(args.runs)
                ]
                print(
                    f"{kind}: resume of {args.resume} missed events: median "
                    f"{statistics.median(took) * 1000:.0f} ms "
                    f"(runs: {', '.join(f'{t * 1000:.0f}' for t in took)} ms)",
                    flush=True,
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
