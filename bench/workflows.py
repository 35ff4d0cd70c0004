"""What a workflow costs: a tenant publish with and without one, and the runner's pace.

Builds a fresh SQLite (or ``--database``) app with ``--users`` members, publishes one
notification to the whole tenant without a workflow and one with ``in_app → wait PT10M unless
read → email``, then advances every run (each makes its wait step), makes the waits due and
advances them again (half the items read: their runs end; the others queue one email each).
Reports the seconds and SQL statements of each part. Nothing is sent (no delivery tick).

    PYTHONPATH=. .venv/bin/python bench/workflows.py --users 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select, update

from notifier import create_app
from notifier.extensions import db
from notifier.models import Delivery, Notification, utcnow
from notifier.models_flows import WorkflowRun
from notifier.service import accounts, workflow_runs, workflows
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content
from notifier.service.recipients import audience

STEPS = [{"channel": "in_app"}, {"wait": "PT10M", "unless": "read"}, {"channel": "email"}]


def measured(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    """Run ``fn``; return its result, the seconds it took and the statements it sent."""
    count = [0]

    def on_execute(*_args: Any) -> None:
        count[0] += 1

    event.listen(db.engine, "before_cursor_execute", on_execute)
    start = time.perf_counter()
    try:
        out = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    return out, time.perf_counter() - start, count[0]


def main() -> None:
    """Run the measurement and print one line per part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: temp SQLite)")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "NOTIFIER_TESTING_FAST_HASH": True,
            "NOTIFIER_SMTP_HOST": "127.0.0.1",  # configured, never reached: no delivery tick
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        tenant = accounts.get_or_create_tenant("bench")
        for i in range(args.users):
            accounts.create_user(f"u{i}@bench.test", "password123", tenant=tenant)
        content = validate_content({"type": "deploy", "title": "Deploy failed"})

        def publish() -> Any:
            group = audience(tenant.id, {"tenant": True})
            return notify_svc.notify(tenant.id, content, group, sender_id=None)

        _, plain_s, plain_q = measured(publish)
        workflows.put(tenant.id, "deploy", STEPS, None, False)
        _, flow_s, flow_q = measured(publish)
        runs, wait_s, wait_q = measured(lambda: workflow_runs.tick(limit=10**9))
        newest = db.session.scalars(
            select(WorkflowRun.notification_id).order_by(WorkflowRun.id)
        ).all()
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_(newest[::2]))
            .values(read_at=utcnow(), seen_at=utcnow())
        )
        db.session.execute(update(WorkflowRun).values(due_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        woke, wake_s, wake_q = measured(lambda: workflow_runs.tick(limit=10**9))
        emails = db.session.scalar(select(func.count()).select_from(Delivery))
    n = args.users
    print(f"users={n} database={url.split(':')[0]}")
    print(f"publish without workflow: {plain_s:.3f}s {plain_q} statements")
    print(f"publish with workflow:    {flow_s:.3f}s {flow_q} statements ({n} runs)")
    print(
        f"runner, to the wait:      {wait_s:.3f}s {wait_q} statements for {runs} runs "
        f"({runs / wait_s:.0f} runs/s, {wait_q / max(runs, 1):.1f} statements/run)"
    )
    print(
        f"runner, wait over:        {wake_s:.3f}s {wake_q} statements for {woke} runs "
        f"({woke / wake_s:.0f} runs/s); emails queued: {emails} (half were read in time)"
    )


if __name__ == "__main__":
    main()
