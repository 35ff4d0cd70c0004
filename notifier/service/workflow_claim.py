"""Claim due workflow runs under a lease, as :mod:`notifier.delivery.claim` claims deliveries.

A claim sets ``locked_until = now + LEASE`` on the runs it wins and commits; that value is the
claim's ownership token: the runner writes a run's new state only where ``locked_until`` still
equals it (:func:`notifier.service.workflow_runs.advance`), so a worker whose lease ran out
cannot overwrite the worker that took the run over. A crashed worker's runs wait LEASE.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from notifier.extensions import db
from notifier.models_flows import WorkflowRun

LEASE = timedelta(seconds=60)
BATCH = 50  # runs per claim: one commit takes the lease on all of them


def claimable(now: datetime) -> tuple[Any, ...]:
    """Return the conditions of a run that may be claimed now: running, due, not leased."""
    return (
        WorkflowRun.status == "running",
        WorkflowRun.due_at <= now,
        or_(WorkflowRun.locked_until.is_(None), WorkflowRun.locked_until < now),
    )


def claim(now: datetime, want: int = BATCH) -> tuple[list[int], datetime] | None:
    """Take the lease on up to ``want`` due runs and commit; return (run ids, lease) or None.

    One conditional ``UPDATE … RETURNING`` decides which candidates this worker won: SQLite
    serialises writers, and on PostgreSQL the candidates are locked ``SKIP LOCKED`` first, so
    two workers never get the same run. All runs of a claim share its lease (the token).
    """
    token = now + LEASE
    query = (
        select(WorkflowRun.id)
        .where(*claimable(now))
        .order_by(WorkflowRun.due_at, WorkflowRun.id)
        .limit(want)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list(db.session.scalars(query))
    won: list[int] = []
    if candidates:
        won = sorted(
            int(i)
            for i in db.session.scalars(
                update(WorkflowRun)
                .where(WorkflowRun.id.in_(candidates), *claimable(now))
                .values(locked_until=token)
                .returning(WorkflowRun.id)
                .execution_options(synchronize_session=False)
            )
        )
    if not won:
        db.session.rollback()
        return None
    db.session.commit()
    return won, token
