"""Run the benchmarks and print medians: fan-out on write, hub delivery, SSE encode.

Usage: python -m bench.micro [--repeat N]. Figures go to docs/benchmarks.md by hand; the machines
are shared and noisy, so only medians and ratios are quoted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert

from notifier import create_app
from notifier.bus.base import Message
from notifier.bus.hub import Hub
from notifier.extensions import db
from notifier.models import User
from notifier.service import accounts
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content


def median_of(fn: Callable[[], float], repeat: int) -> tuple[float, list[float]]:
    """Run ``fn`` ``repeat`` times; return the median and all samples (seconds)."""
    samples = [fn() for _ in range(repeat)]
    return statistics.median(samples), samples


def bench_fanout(recipients: int, repeat: int) -> float:
    """Return the CPU seconds of one notify() call to ``recipients`` users on fresh SQLite.

    Process CPU time, not wall clock: on a shared machine the other jobs' load changes the
    wall clock several-fold and this figure far less.
    """

    def once() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(
                {
                    "TESTING": True,
                    "SECRET_KEY": "bench",
                    "DATABASE_URL": f"sqlite:///{Path(tmp) / 'b.sqlite'}",
                }
            )
            with app.app_context():
                db.create_all()
                tenant = accounts.get_or_create_tenant("bench")
                db.session.execute(
                    insert(User),
                    [
                        {
                            "tenant_id": tenant.id,
                            "email": f"u{i}@bench.example.com",
                            "password_hash": "x",
                            "role": "member",
                            "timezone": "UTC",
                            "active": True,
                        }
                        for i in range(recipients)
                    ],
                )
                db.session.commit()
                ids = notify_svc.resolve_recipients(tenant.id, {"tenant": True})
                content = validate_content(
                    {"type": "system", "title": "Bench", "channels": ["in_app"]}
                )
                start = time.process_time()
                notify_svc.notify(tenant.id, content, ids, sender_id=None)
                elapsed = time.process_time() - start
                db.session.remove()
                db.engine.dispose()
                return elapsed

    med, _ = median_of(once, repeat)
    return med


def bench_hub(subscribers: int, messages: int, repeat: int) -> float:
    """Time hub.deliver of ``messages`` messages, one per subscriber's user; return µs/put."""

    def once() -> float:
        hub = Hub(queue_size=messages + 1, max_per_user=10, max_total=subscribers + 1)
        for uid in range(subscribers):
            hub.subscribe(uid, 1)
        batch = [
            Message(
                user_id=i % subscribers,
                tenant_id=1,
                cursor=i + 1,
                event="notification",
                data={"id": i},
            )
            for i in range(messages)
        ]
        start = time.perf_counter()
        puts = hub.deliver(batch)
        return (time.perf_counter() - start) / max(puts, 1) * 1e6

    med, _ = median_of(once, repeat)
    return med


def main() -> None:
    """Print each benchmark's median."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for n in (1_000, 10_000):
        print(
            f"fan-out notify() to {n:>6} recipients (SQLite): "
            f"median {bench_fanout(n, args.repeat) * 1e3:.0f} ms CPU"
        )
    print(
        f"hub.deliver, 10,000 subscribers, 10,000 messages: "
        f"median {bench_hub(10_000, 10_000, args.repeat):.2f} µs per queued message"
    )


if __name__ == "__main__":
    main()
