"""Time to screen: publish → on-screen latency as browsers report it (CONTRACT §9, issue 11).

A page acknowledges each notification it rendered live with how long ago it rendered it
(``age`` in ms, measured on the page's own clock). The server places the render at
``arrival - age`` on its own clock, so the browser's clock never enters the latency: it is
``(arrival - age) - created_at``, both read by this server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from notifier.extensions import db
from notifier.models import Notification, ScreenAck, User, utcnow
from notifier.service.errors import ValidationError

MAX_ACKS = 100
#: An ack for an older notification is not a live render (a tab woken from sleep, a replay).
MAX_AGE = timedelta(minutes=10)
MAX_SAMPLES = 10_000


def parse(doc: Any) -> list[tuple[int, int]]:
    """Return [(notification id, age ms)] from ``{"acks": [{"id", "age"}]}``; 422 otherwise."""
    acks = doc.get("acks") if isinstance(doc, dict) else None
    if not isinstance(acks, list) or len(acks) > MAX_ACKS:
        raise ValidationError("bad acks", fields={"acks": f"a list of at most {MAX_ACKS}"})
    out = []
    for a in acks:
        nid, age = (a.get("id"), a.get("age")) if isinstance(a, dict) else (None, None)
        ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (nid, age))
        if not ok or not (0 < nid < 2**63 and 0 <= age < 3_600_000):  # type: ignore[operator]
            raise ValidationError("bad ack", fields={"acks": "each {id, age} non-negative ints"})
        out.append((int(nid), int(age)))  # type: ignore[arg-type]
    return out


def record(user: User, acks: Sequence[tuple[int, int]], now: datetime | None = None) -> list[float]:
    """Store one ack per (user, notification) rendered live; return the new latencies (s)."""
    now = now or utcnow()
    ages = dict(acks)
    if not ages:
        return []
    rows = db.session.execute(
        select(Notification.id, Notification.created_at).where(
            Notification.user_id == user.id,
            Notification.id.in_(list(ages)),
            Notification.created_at >= now - MAX_AGE,
        )
    ).all()
    seen = set(
        db.session.scalars(
            select(ScreenAck.notification_id).where(
                ScreenAck.user_id == user.id, ScreenAck.notification_id.in_([r[0] for r in rows])
            )
        )
    )
    latencies = []
    for nid, created in rows:
        if nid in seen:
            continue
        on_screen = now - timedelta(milliseconds=ages[nid])
        ms = max(0, round((on_screen - created).total_seconds() * 1000))
        db.session.add(
            ScreenAck(
                tenant_id=user.tenant_id,
                user_id=user.id,
                notification_id=nid,
                latency_ms=ms,
                created_at=now,
            )
        )
        latencies.append(ms / 1000)
    db.session.commit()
    return latencies


def percentiles(tenant_id: int, since: datetime) -> dict[str, Any]:
    """Return ``{count, p50_ms, p99_ms}`` of the tenant's acks since ``since`` (newest 10k)."""
    values = sorted(
        db.session.scalars(
            select(ScreenAck.latency_ms)
            .where(ScreenAck.tenant_id == tenant_id, ScreenAck.created_at >= since)
            .order_by(ScreenAck.id.desc())
            .limit(MAX_SAMPLES)
        )
    )
    if not values:
        return {"count": 0, "p50_ms": None, "p99_ms": None}

    def rank(q: float) -> int:
        # Nearest rank: the smallest value with at least q of the samples at or below it.
        return int(values[max(0, math.ceil(q * len(values)) - 1)])

    return {"count": len(values), "p50_ms": rank(0.5), "p99_ms": rank(0.99)}
