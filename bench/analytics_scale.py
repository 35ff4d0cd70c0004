"""Time GET /api/v1/analytics's queries on a large tenant (SQLite file in a temporary directory).

    python -m bench.analytics_scale [NOTIFICATIONS]      # default 100,000

One tenant, NOTIFICATIONS inbox rows over 30 days (8 types, variants A/B/none, 40 % read,
60 % seen), one email delivery per row (sent, dead or pending) and 5,000 action clicks; then
each grouping once, wall time printed.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import timedelta

from sqlalchemy import insert


def main(argv: list[str]) -> int:
    """Build the data, run each grouping, print the times."""
    from notifier import create_app
    from notifier.extensions import db
    from notifier.models import ActionClick, Delivery, Notification, utcnow
    from notifier.service import accounts, analytics

    n = int(argv[0]) if argv else 100_000
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/scale.sqlite",
            "SECRET_KEY": "bench",
            "NOTIFIER_TESTING_FAST_HASH": True,
        }
    )
    with app.app_context():
        db.create_all()
        tenant = accounts.get_or_create_tenant("acme")
        user = accounts.create_user("a@example.com", "password123", tenant=tenant)
        rng, now = random.Random(1), utcnow()
        rows = []
        for i in range(n):
            t = now - timedelta(minutes=rng.uniform(0, 30 * 1440))
            rows.append(
                {
                    "id": i + 1, "tenant_id": tenant.id, "user_id": user.id, "type": f"t{i % 8}",
                    "title": "x", "body": "", "priority": "normal", "tags_text": "",
                    "created_at": t, "read_at": t if rng.random() < 0.4 else None,
                    "seen_at": t if rng.random() < 0.6 else None,
                    "variant": rng.choice(["A", "B", None]),
                }
            )  # fmt: skip
        db.session.execute(insert(Notification), rows)
        statuses = ["sent", "sent", "dead", "pending"]
        db.session.execute(
            insert(Delivery),
            [
                {
                    "tenant_id": tenant.id, "user_id": user.id, "notification_id": r["id"],
                    "channel": "email", "status": rng.choice(statuses),
                    "payload": {"type": r["type"]}, "created_at": r["created_at"],
                    "due_at": r["created_at"], "attempts": 0,
                }
                for r in rows
            ],
        )  # fmt: skip
        db.session.execute(
            insert(ActionClick),
            [
                {
                    "tenant_id": tenant.id, "user_id": user.id,
                    "notification_id": rng.randint(1, n), "action_id": "a", "type": "t",
                    "clicked_at": now,
                }
                for _ in range(5000)
            ],
        )  # fmt: skip
        db.session.commit()
        print(f"{n:,} notifications + {n:,} email deliveries + 5,000 clicks (SQLite)")
        for by in analytics.BY:
            q = analytics.Query(tenant.id, now - timedelta(days=30), now, by=(by,))
            started = time.perf_counter()
            out = analytics.rows(q)
            print(f"by={by}: {len(out)} rows in {(time.perf_counter() - started) * 1000:,.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
