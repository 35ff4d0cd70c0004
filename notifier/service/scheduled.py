"""What admins do with scheduled sends: list pending and failed ones, cancel, retry, dismiss.

Statuses: ``scheduled`` (waiting for send_at) → ``sent`` | ``failed`` (set aside by the
scheduler, CONTRACT §8) | ``cancelled`` (an admin cancelled it before it went out). A failed
row can be retried (back to ``scheduled``, due now: the next scheduler tick sends it or sets
it aside again) or dismissed (``dismissed``: kept for the record, off the lists). Every
change is a conditional UPDATE, so a row the scheduler is releasing at that moment is either
sent or cancelled, never both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from notifier.extensions import db
from notifier.models import ScheduledNotification, utcnow
from notifier.service.errors import Conflict, NotFound
from notifier.service.failures import printable
from notifier.service.serialize import iso

LISTED = ("scheduled", "failed")
MAX_LIMIT = 100


def scheduled_dict(row: ScheduledNotification) -> dict[str, Any]:
    """Serialize a scheduled send: what it says, to how many, when, and how it stands."""
    spec = row.spec if isinstance(row.spec, dict) else {}
    recipients = spec.get("recipients")
    return {
        "id": row.id,
        "status": row.status,
        "type": printable(spec.get("type") or ""),
        "title": printable(spec.get("title") or ""),
        "priority": spec.get("priority") or "normal",
        "recipients": len(recipients) if isinstance(recipients, list) else 0,
        "send_at": iso(row.send_at),
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "failed_at": iso(row.failed_at),
        "error": row.error,
    }


def list_for(
    tenant_id: int, *, status: str | None = None, limit: int = 50, after: int | None = None
) -> tuple[list[ScheduledNotification], str | None]:
    """Return one page of the tenant's pending and failed sends (or one status), soonest first."""
    sn = ScheduledNotification
    statuses = (status,) if status else LISTED
    q = select(sn).where(sn.tenant_id == tenant_id, sn.status.in_(statuses))
    if after is not None:
        q = q.where(sn.id > after)
    rows = list(db.session.scalars(q.order_by(sn.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


def _get(tenant_id: int, scheduled_id: int) -> ScheduledNotification:
    row = db.session.get(ScheduledNotification, scheduled_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("scheduled notification not found")
    return row


def _move(tenant_id: int, scheduled_id: int, frm: tuple[str, ...], **values: Any) -> None:
    row = _get(tenant_id, scheduled_id)
    sn = ScheduledNotification
    changed = db.session.execute(
        update(sn).where(sn.id == row.id, sn.status.in_(frm)).values(**values)
    ).rowcount  # type: ignore[attr-defined]
    if not changed:
        db.session.rollback()
        current = db.session.get(sn, scheduled_id, populate_existing=True)
        status = current.status if current is not None else "gone"
        raise Conflict(f"the scheduled notification is {status}", code="conflict")
    db.session.commit()


def cancel(tenant_id: int, scheduled_id: int) -> None:
    """Cancel a send that has not gone out (or a failed one); 409 once it was sent."""
    _move(tenant_id, scheduled_id, ("scheduled", "failed"), status="cancelled")


def retry(tenant_id: int, scheduled_id: int) -> None:
    """Put a failed send back in the queue, due now; 409 unless it is failed."""
    _move(
        tenant_id,
        scheduled_id,
        ("failed",),
        status="scheduled",
        send_at=utcnow(),
        error=None,
        failed_at=None,
    )


def dismiss(tenant_id: int, scheduled_id: int) -> None:
    """Take a failed send off the lists without sending it; 409 unless it is failed."""
    _move(tenant_id, scheduled_id, ("failed",), status="dismissed")
