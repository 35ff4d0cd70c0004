"""Scheduled notifications: hold a notify() call until send_at, then release it once.

The API calls :func:`schedule` instead of ``notify()`` when :func:`later` says so; the
scheduler loop calls :func:`release_due`, which calls ``notify()``: the import goes one way.

A row that cannot be released (its stored content no longer validates, or the database refuses
it) is set aside as ``failed`` with the reason and the time, for the admin dashboard; the rows
due after it go out in the same tick (CONTRACT §8: one bad row never stalls shared work).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, CursorResult, select, update

from notifier.extensions import db
from notifier.models import ScheduledNotification, User, utcnow
from notifier.service import templates
from notifier.service.content import validate_content
from notifier.service.failures import describe, printable
from notifier.service.notify import notify
from notifier.service.notify_plan import BeforeCommit, NotifyResult
from notifier.service.serialize import iso

log = logging.getLogger("notifier.schedule")


def later(content: dict[str, Any]) -> bool:
    """Return True when the content's send_at lies in the future (schedule it, do not send)."""
    return bool(content.get("send_at")) and content["send_at"] > utcnow()


def schedule(
    tenant_id: int,
    content: dict[str, Any],
    recipients: Sequence[int],
    sender_id: int | None,
    *,
    before_commit: BeforeCommit | None = None,
) -> NotifyResult:
    """Store the call for the scheduler loop; nothing is visible or delivered until send_at.

    The type's templates are rendered for every recipient first (storing nothing): a
    variable ``data`` lacks is a 422 now, not a failure at send time.
    """
    templates.check(tenant_id, content, recipients)
    spec = {**content, "send_at": iso(content["send_at"]), "recipients": list(recipients)}
    row = ScheduledNotification(
        tenant_id=tenant_id, created_by=sender_id, spec=spec, send_at=content["send_at"]
    )
    db.session.add(row)
    db.session.flush()  # the id, for the answer recorded in this same commit
    result = NotifyResult(channels={}, recipients=len(recipients), scheduled_id=row.id)
    if before_commit is not None:
        before_commit(result)
    db.session.commit()
    return result


def release_due(limit: int = 50) -> int:
    """Send scheduled notifications whose time has come; return how many were released.

    Each row is claimed with a conditional UPDATE in the same transaction that notify()
    commits, so with several schedulers (processes, hosts) exactly one releases it, and a
    crash before the commit leaves it scheduled. Each row has its own transaction: one that
    fails is rolled back and set aside in a fresh one, and the loop goes on.
    """
    sn = ScheduledNotification
    due_ids = db.session.scalars(
        select(sn.id)
        .where(sn.status == "scheduled", sn.send_at <= utcnow())
        .order_by(sn.send_at, sn.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    released = 0
    for sid in due_ids:
        try:
            released += _release(sid)
        except Exception as exc:  # Whatever it is, it is this row's: the others must go on.
            db.session.rollback()
            log.exception("scheduled notification %s failed; set aside as failed", sid)
            if isinstance(exc, json.JSONDecodeError):  # Not JSON: no read of it would work.
                reason = f"the stored spec is not JSON ({describe(exc)}); it was cleared"
                _set_aside(sid, reason, clear_spec=True)
            else:
                _set_aside(sid, describe(exc))
    return released


def _release(sid: int) -> int:
    """Claim and send one row in one transaction; return 1, or 0 when another worker has it."""
    claim = db.session.execute(
        update(ScheduledNotification)
        .where(ScheduledNotification.id == sid, ScheduledNotification.status == "scheduled")
        .values(status="sent", sent_at=utcnow())
    )
    claimed = cast("CursorResult[Any]", claim).rowcount
    if not claimed:
        db.session.rollback()
        return 0
    row = db.session.get(ScheduledNotification, sid, populate_existing=True)
    if row is None:  # Deleted between the claim and here: nothing to send.
        db.session.commit()
        return 0
    spec = dict(row.spec)
    recipients = spec.pop("recipients")
    spec["send_at"] = None
    content = validate_content(spec)
    live = set(db.session.scalars(select(User.id).where(User.id.in_(recipients))))
    alive = [r for r in recipients if r in live]
    notify(row.tenant_id, content, alive, sender_id=None)
    return 1


def _set_aside(sid: int, reason: str, *, clear_spec: bool = False) -> None:
    """Mark the row failed in a fresh transaction; only while it is still scheduled."""
    values: dict[str, Any] = {"status": "failed", "error": reason, "failed_at": utcnow()}
    if clear_spec:
        values["spec"] = JSON.NULL
    try:
        db.session.execute(
            update(ScheduledNotification)
            .where(ScheduledNotification.id == sid, ScheduledNotification.status == "scheduled")
            .values(**values)
        )
        db.session.commit()
    except Exception:  # The database itself is in trouble; the row is retried next tick.
        db.session.rollback()
        log.exception("scheduled notification %s: could not record the failure", sid)


def failed(tenant_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Return the tenant's newest failed scheduled notifications, in printable text."""
    sn = ScheduledNotification
    rows = db.session.scalars(
        select(sn)
        .where(sn.tenant_id == tenant_id, sn.status == "failed")
        .order_by(sn.failed_at.desc(), sn.id.desc())
        .limit(limit)
    )
    out = []
    for row in rows:
        spec = row.spec if isinstance(row.spec, dict) else {}
        recipients = spec.get("recipients")
        out.append(
            {
                "id": row.id,
                "type": printable(spec.get("type") or ""),
                "title": printable(spec.get("title") or ""),
                "recipients": len(recipients) if isinstance(recipients, list) else 0,
                "send_at": iso(row.send_at),
                "failed_at": iso(row.failed_at),
                "error": row.error or "",
            }
        )
    return out
