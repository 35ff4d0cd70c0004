"""Scheduled notifications: hold a notify() call until send_at, then release it once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update

from notifier.extensions import db
from notifier.models import ScheduledNotification, User, utcnow
from notifier.service import notify as notify_mod
from notifier.service.content import validate_content
from notifier.service.serialize import iso


def schedule(
    tenant_id: int,
    content: dict[str, Any],
    recipients: Sequence[int],
    sender_id: int | None,
    *,
    before_commit: Callable[[notify_mod.NotifyResult], None] | None = None,
) -> notify_mod.NotifyResult:
    """Store the call for the scheduler loop; nothing is visible or delivered until send_at."""
    spec = {**content, "send_at": iso(content["send_at"]), "recipients": list(recipients)}
    row = ScheduledNotification(
        tenant_id=tenant_id, created_by=sender_id, spec=spec, send_at=content["send_at"]
    )
    db.session.add(row)
    db.session.flush()  # the id, for the answer recorded in this same commit
    result = notify_mod.NotifyResult(channels={}, recipients=len(recipients), scheduled_id=row.id)
    if before_commit is not None:
        before_commit(result)
    db.session.commit()
    return result


def release_due(limit: int = 50) -> int:
    """Send scheduled notifications whose time has come; return how many were released.

    Each row is claimed with a conditional UPDATE in the same transaction that notify()
    commits, so with several schedulers (processes, hosts) exactly one releases it, and a
    crash before the commit leaves it scheduled.
    """
    due_ids = db.session.scalars(
        select(ScheduledNotification.id)
        .where(ScheduledNotification.sent_at.is_(None), ScheduledNotification.send_at <= utcnow())
        .order_by(ScheduledNotification.send_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    released = 0
    for sid in due_ids:
        claimed = db.session.execute(
            update(ScheduledNotification)
            .where(ScheduledNotification.id == sid, ScheduledNotification.sent_at.is_(None))
            .values(sent_at=utcnow())
        ).rowcount
        if not claimed:
            db.session.rollback()
            continue
        row = db.session.get(ScheduledNotification, sid)
        spec = dict(row.spec)
        recipients = spec.pop("recipients")
        spec["send_at"] = None
        content = validate_content(spec)
        live = set(db.session.scalars(select(User.id).where(User.id.in_(recipients))))
        alive = [r for r in recipients if r in live]
        notify_mod.notify(row.tenant_id, content, alive, sender_id=None)
        released += 1
    return released
