"""Outcomes of a tenant's notifications: sent, delivered, failed, seen, read, clicked (§10).

The unit is a *message*: an inbox row (channel ``in_app``) or an external delivery to a
person or a chat (``email``, ``push``, ``sms``, ``chat``; webhooks are integrator plumbing
and left out). Per message, in the window ``since <= created_at < until``:

* ``sent``: the message was created (an inbox row; a delivery row);
* ``delivered``: an inbox row always; a delivery once its status is ``sent``;
* ``failed``: a delivery that is ``dead`` (gave up after retries or refused for good);
* ``seen`` / ``read`` / ``clicked``: the notification the message carries was seen / read /
  had at least one action click (so an email whose item was read in the app counts read);
* ``read_rate = read / delivered``, ``click_rate = clicked / delivered``; null when nothing
  was delivered.

Grouped ``by`` type, channel, variant or day (UTC date), each part one grouped SQL query,
so the channel rows partition exactly the messages the other groupings count. docs/analytics.md
says the same for readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, select

from notifier.extensions import db
from notifier.models import ActionClick, Delivery, Notification, utcnow

BY = ("type", "channel", "variant", "day")
CHANNELS = ("in_app", "email", "push", "sms", "chat")
COUNTS = ("sent", "delivered", "failed", "seen", "read", "clicked")
DEFAULT_DAYS = 30
MAX_DAYS = 400
N, D = Notification, Delivery


@dataclass(frozen=True)
class Query:
    """One analytics question: a tenant's window, grouping and optional filters."""

    tenant_id: int
    since: datetime
    until: datetime
    by: tuple[str, ...] = ("type",)
    type: str | None = None
    channel: str | None = None


def window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """Fill in the default window (the last DEFAULT_DAYS days up to now, or up to since)."""
    until = until or (max(utcnow(), since) if since else utcnow())
    return since or until - timedelta(days=DEFAULT_DAYS), until


def _clicked() -> Any:
    """1 when the joined notification has an action click (EXISTS: one index probe per row)."""
    has_click = exists().where(ActionClick.notification_id == N.id)
    return func.count(case((has_click, 1)))


def _day(column: Any) -> Any:
    return func.date(column)


def _inbox_key(name: str) -> Any:
    return {
        "type": N.type,
        "channel": literal("in_app"),
        "variant": N.variant,
        "day": _day(N.created_at),
    }[name]


def _delivery_key(name: str) -> Any:
    return {
        # A delivery whose user has no inbox row (in_app off) still has the type in its payload.
        "type": func.coalesce(N.type, D.payload["type"].as_string()),
        "channel": D.channel,
        "variant": N.variant,
        "day": _day(D.created_at),
    }[name]


def _inbox_part(q: Query) -> list[tuple[tuple[Any, ...], list[int]]]:
    keys = [_inbox_key(b) for b in q.by]
    cond = [N.tenant_id == q.tenant_id, N.created_at >= q.since, N.created_at < q.until]
    if q.type:
        cond.append(N.type == q.type)
    stmt = (
        select(
            *keys,
            func.count(),
            func.count(N.seen_at),
            func.count(N.read_at),
            _clicked(),
        )
        .select_from(N)
        .where(*cond)
        .group_by(*keys)
    )
    out = []
    n = len(keys)
    for row in db.session.execute(stmt):
        sent, seen, read, clicks = (int(v) for v in row[n:])
        out.append((tuple(row[:n]), [sent, sent, 0, seen, read, clicks]))
    return out


def _delivery_part(q: Query) -> list[tuple[tuple[Any, ...], list[int]]]:
    keys = [_delivery_key(b) for b in q.by]
    cond = [
        D.tenant_id == q.tenant_id,
        D.channel != "webhook",
        D.created_at >= q.since,
        D.created_at < q.until,
    ]
    if q.channel:
        cond.append(D.channel == q.channel)
    if q.type:
        cond.append(_delivery_key("type") == q.type)
    stmt = (
        select(
            *keys,
            func.count(),
            func.count(case((D.status == "sent", 1))),
            func.count(case((D.status == "dead", 1))),
            func.count(N.seen_at),
            func.count(N.read_at),
            _clicked(),
        )
        .select_from(D)
        # The inbox row of the same person: chat posts (no user) carry no reads.
        .outerjoin(N, and_(N.id == D.notification_id, N.user_id == D.user_id))
        .where(*cond)
        .group_by(*keys)
    )
    n = len(keys)
    return [(tuple(row[:n]), [int(v) for v in row[n:]]) for row in db.session.execute(stmt)]


def _key(value: Any) -> Any:
    """Normalise a key: PostgreSQL's date is a date, SQLite's a string."""
    if value is None or isinstance(value, str):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def rate(part: int, whole: int) -> float | None:
    """Return part / whole rounded to 4 places, None when whole is 0."""
    return round(part / whole, 4) if whole else None


def grouped(q: Query) -> dict[tuple[Any, ...], dict[str, int]]:
    """Return {key tuple: counts} for the query (the parts summed per key)."""
    parts = []
    if q.channel in (None, "in_app"):
        parts += _inbox_part(q)
    if q.channel != "in_app":
        parts += _delivery_part(q)
    acc: dict[tuple[Any, ...], list[int]] = {}
    for key, counts in parts:
        k = tuple(_key(v) for v in key)
        total = acc.setdefault(k, [0] * len(COUNTS))
        for i, c in enumerate(counts):
            total[i] += c
    return {k: dict(zip(COUNTS, v, strict=True)) for k, v in acc.items()}


def row_dict(key: Any, counts: dict[str, int]) -> dict[str, Any]:
    """Return one API row: the key, the counts and the two rates."""
    return {
        "key": key,
        **counts,
        "read_rate": rate(counts["read"], counts["delivered"]),
        "click_rate": rate(counts["clicked"], counts["delivered"]),
    }


def _order(key: Any) -> tuple[bool, str]:
    return (key is None, str(key))


def rows(q: Query) -> list[dict[str, Any]]:
    """Return GET /api/v1/analytics rows for a one-key query, ordered by key (null last)."""
    data = grouped(q)
    return [row_dict(k[0], data[k]) for k in sorted(data, key=lambda k: _order(k[0]))]


def keys_of(data: dict[tuple[Any, ...], Any], position: int) -> Sequence[Any]:
    """Return the distinct values at ``position`` of the keys, ordered (null last)."""
    return sorted({k[position] for k in data}, key=_order)
