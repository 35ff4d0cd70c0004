"""Fault reproduction: POSTs and GETs at a steady rate through gunicorn while PostgreSQL restarts.

Starts a throwaway PostgreSQL cluster (tests/fixtures_postgres.py) and ``gunicorn -w 2`` on it
(tests/fixtures_live.py), sends ``--rate`` requests per second (alternating POST and GET, each
POST with a unique title and Idempotency-Key) for ``--seconds``, runs ``pg_ctl restart -m
fast`` ``--restarts`` times spread over the run, then counts answers by status and checks the
stored notifications for losses (a 201 whose row is missing) and duplicates.

Run from the checkout: ``.venv/bin/python scripts/fault_pg_restart.py [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures_live import LiveServer, http_json  # noqa: E402
from tests.fixtures_postgres import PostgresServer  # noqa: E402
from tests.sse_client import bearer, token_for  # noqa: E402


def main() -> int:
    """Run the fault and print one summary line; exit 1 on any 5xx, loss or duplicate."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    pg = PostgresServer()
    pg.start()
    workdir = Path(tempfile.mkdtemp(prefix="notifier-fault-"))
    server = None
    try:
        url = pg.url(pg.create_database("notifier_fault"))
        server = LiveServer(workdir, {"DATABASE_URL": url}, gunicorn_workers=args.workers)
        server.flask("init-db")
        server.flask("seed-demo")
        server.start()
        admin = bearer(token_for(server, "admin@example.com"))
        results: list[tuple[str, int, str]] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            title = f"fault-{i}"
            if i % 2:
                status, _ = http_json(
                    "GET", server.url + "/api/v1/notifications?limit=5", headers=admin, timeout=30
                )
                kind = "GET"
            else:
                body = {"email": "alice@example.com", "type": "fault", "title": title}
                headers = {**admin, "Idempotency-Key": uuid.uuid4().hex}
                status, _ = http_json(
                    "POST", server.url + "/api/v1/notifications", body, headers, timeout=30
                )
                kind = "POST"
            with lock:
                results.append((kind, status, title))

        restarts: list[float] = []

        def restarter() -> None:
            for _ in range(args.restarts):
                time.sleep(args.seconds / (args.restarts + 1))
                t0 = time.monotonic()
                pg._run(
                    "pg_ctl", "-D", str(pg.datadir), "-l", str(pg.logfile), "-m", "fast", "-w",
                    "restart",
                )  # fmt: skip
                restarts.append(time.monotonic() - t0)

        total = int(args.seconds * args.rate)
        rt = threading.Thread(target=restarter)
        rt.start()
        threads = []
        start = time.monotonic()
        for i in range(total):
            delay = start + i / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = threading.Thread(target=one, args=(i,))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        rt.join()

        by_status = collections.Counter((k, s) for k, s, _ in results)
        created = {title for k, s, title in results if k == "POST" and s == 201}
        with psycopg.connect(
            host=str(pg.socket_dir), port=5432, user="postgres", dbname="notifier_fault"
        ) as conn:
            rows = conn.execute(
                "SELECT title, count(*) FROM notifications WHERE type = 'fault' GROUP BY title"
            ).fetchall()
        stored = dict(rows)
        lost = sorted(created - set(stored))
        dup = sorted(t for t, c in stored.items() if c > 1)
        fivexx = sum(n for (_k, s), n in by_status.items() if s >= 500)
        summary = ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(by_status.items()))
        print(
            f"sent {len(results)} ({summary}); 5xx {fivexx}; lost {len(lost)}; dup {len(dup)}; "
            f"restarts {len(restarts)} taking {', '.join(f'{r:.2f}s' for r in restarts)}"
        )
        log_copy = Path(tempfile.gettempdir()) / "notifier-fault-server.log"
        log_copy.write_text(server.log())
        print(f"server log: {log_copy}")
        return 1 if fivexx or lost or dup else 0
    finally:
        if server is not None:
            server.stop()
        pg.stop()


if __name__ == "__main__":
    raise SystemExit(main())
