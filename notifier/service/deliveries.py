"""Delivery bookkeeping for admins: status counts, the dead-letter list, manual retry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select

from notifier.extensions import db
from notifier.models import Delivery, Notification, utcnow
from notifier.service.errors import NotFound
from notifier.service.serialize import iso


def counts_by_channel(tenant_id: int) -> dict[str, dict[str, int]]:
    """Return {channel: {status: n}} for the tenant's deliveries."""
    out: dict[str, dict[str, int]] = {}
    rows = db.session.execute(
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.tenant_id == tenant_id)
        .group_by(Delivery.channel, Delivery.status)
    ).all()
    for channel, status, n in rows:
        out.setdefault(channel, {})[status] = int(n)
    return out


def dead_letters(tenant_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Return the newest dead deliveries of the tenant."""
    rows = db.session.scalars(
        select(Delivery)
        .where(Delivery.tenant_id == tenant_id, Delivery.status == "dead")
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": d.id,
            "channel": d.channel,
            "user_id": d.user_id,
            # A payload set aside as unusable need not be an object.
            "title": d.payload.get("title", "") if isinstance(d.payload, dict) else "",
            "attempts": d.attempts,
            "last_error": d.last_error or "",
            "created_at": iso(d.created_at),
        }
        for d in rows
    ]


def queued(tenant_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Return the tenant's deliveries still to go: failed ones first, each with its next try.

    ``state`` is ``sending`` (a worker holds the lease now), ``failed`` (an attempt failed;
    ``next_attempt_at`` says when the next one is due), ``digest`` (waiting for its window)
    or ``queued``; ``attempts`` counts the attempts made so far.
    """
    now = utcnow()
    rows = db.session.scalars(
        select(Delivery)
        .where(Delivery.tenant_id == tenant_id, Delivery.status == "pending")
        .order_by(case((Delivery.attempts > 0, 0), else_=1), Delivery.due_at, Delivery.id)
        .limit(limit)
    )
    out = []
    for d in rows:
        if d.locked_until is not None and d.locked_until > now:
            state = "sending"
        elif d.attempts:
            state = "failed"
        else:
            state = "digest" if d.digest else "queued"
        out.append(
            {
                "id": d.id,
                "channel": d.channel,
                "title": d.payload.get("title", "") if isinstance(d.payload, dict) else "",
                "state": state,
                "attempts": d.attempts or 0,
                "next_attempt_at": iso(d.due_at),
                "next_in": max(0, round((d.due_at - now).total_seconds())),
                "last_error": d.last_error or "",
            }
        )
    return out


def retry(tenant_id: int, delivery_id: int) -> Delivery:
    """Put a dead delivery back in the queue, due now; NotFound for other tenants' rows."""
    d = db.session.get(Delivery, delivery_id)
    if d is None or d.tenant_id != tenant_id or d.status != "dead":
        raise NotFound("dead delivery not found")
    d.status, d.attempts, d.due_at, d.locked_until = "pending", 0, utcnow(), None
    db.session.commit()
    return d


def notifications_per_hour(tenant_id: int, hours: int = 24) -> list[tuple[str, int]]:
    """Return [(hour ISO, count)] for the last ``hours`` hours, oldest first, zeros included."""
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=hours - 1)
    stamps = db.session.scalars(
        select(Notification.created_at).where(
            Notification.tenant_id == tenant_id, Notification.created_at >= start
        )
    )
    buckets = {start + timedelta(hours=i): 0 for i in range(hours)}
    for ts in stamps:
        key = ts.replace(minute=0, second=0, microsecond=0)
        if key in buckets:
            buckets[key] += 1
    return [(iso(k) or "", v) for k, v in buckets.items()]
