"""Count the SQL statements (and commits) of one targeted POST /api/v1/notifications.

``python -m bench.statements [--n 200] [--show]``: an in-process app on a fresh SQLite file,
the real view through Flask's test client, no streams. Prints statements and commits per
POST (after a warm-up, so caches are as a running server has them) and CPU µs per POST;
``--show`` lists the statements of the last POST.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from bench.seed import seed
from notifier import create_app
from notifier.extensions import db


def main() -> None:
    """Post ``--n`` targeted notifications and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'b.sqlite'}",
                "NOTIFIER_RATE_LIMIT_PUBLISH": "1000000/second",
            }
        )
        with app.app_context():
            db.create_all()
            tenant = seed([20])["tenants"][0]
            engine = db.engine
        seen: list[str] = []
        commits = [0]
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        event.listen(engine, "commit", lambda *a: commits.__setitem__(0, commits[0] + 1))
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tenant['admin_token']}"}
        users = [u[0] for u in tenant["users"]]

        def post(i: int) -> None:
            body = {"user_id": users[i % len(users)], "type": "system", "title": f"b{i}"}
            body["channels"] = ["in_app"]
            resp = client.post("/api/v1/notifications", json=body, headers=headers)
            assert resp.status_code == 201, resp.get_data(as_text=True)

        for i in range(20):
            post(i)
        seen.clear()
        commits[0] = 0
        cpu = os.times()
        start = time.perf_counter()
        last: list[str] = []
        for i in range(args.n):
            mark = len(seen)
            post(i)
            last = seen[mark:]
        wall = time.perf_counter() - start
        used = os.times()
        cpu_s = used.user + used.system - cpu.user - cpu.system
        print(
            f"{len(seen) / args.n:.2f} statements and {commits[0] / args.n:.2f} commits per POST; "
            f"{cpu_s / args.n * 1e6:.0f} µs CPU, {wall / args.n * 1e3:.2f} ms wall per POST "
            f"(n={args.n}, SQLite, no streams)"
        )
        if args.show:
            for sql in last:
                print("  ", " ".join(sql.split())[:140])


if __name__ == "__main__":
    main()
