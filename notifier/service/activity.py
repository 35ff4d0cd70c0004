"""Record when users read, click and connect: the hourly counts send-time optimisation learns from.

One row per user per UTC hour (``activity_hours``); each event batch is one upsert
(``INSERT … ON CONFLICT DO UPDATE``, SQLite and PostgreSQL alike), so recording costs one
statement in the transaction that already changes the inbox. What counts:

* ``reads``: acts of reading, not items: one mark-read, one bulk read or one read-all is 1
  (a read-all of 300 old items says no more about when the user reads than one click does);
* ``clicks``: action-button clicks (CONTRACT §9);
* ``connects``: stream (SSE or WebSocket) openings, at most one per user per UTC hour per
  process: tabs and reconnect storms add nothing to "was connected in that hour", and this
  keeps a storm of resumes free of writes.

Rows older than :data:`KEEP_DAYS` are deleted by the worker's prune loop (:func:`prune`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from notifier.extensions import db
from notifier.models import utcnow
from notifier.models_flows import ActivityHour

log = logging.getLogger("notifier.activity")
KEEP_DAYS = 30
#: app.extensions key of {hour: (day, UTC hour), users: whose connect this hour is recorded}.
_CONNECTED = "notifier.activity.connected"


@cache
def _upsert(dialect: str) -> Any:
    """Build the upsert once per dialect (building one costs more than running it)."""
    ins: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ActivityHour.__table__
    stmt = ins(table).values(
        user_id=bindparam("a_user", type_=table.c.user_id.type),
        day=bindparam("a_day", type_=table.c.day.type),
        hour=bindparam("a_hour", type_=table.c.hour.type),
        reads=bindparam("a_reads", type_=table.c.reads.type),
        clicks=bindparam("a_clicks", type_=table.c.clicks.type),
        connects=bindparam("a_connects", type_=table.c.connects.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.day, table.c.hour],
        set_={
            "reads": table.c.reads + stmt.excluded.reads,
            "clicks": table.c.clicks + stmt.excluded.clicks,
            "connects": table.c.connects + stmt.excluded.connects,
        },
    )


def record(
    user_id: int, *, reads: int = 0, clicks: int = 0, connects: int = 0, at: datetime | None = None
) -> None:
    """Add counts to the user's row for the UTC hour of ``at`` (now); the caller commits."""
    at = at or utcnow()
    params = {
        "a_user": user_id,
        "a_day": at.date(),
        "a_hour": at.hour,
        "a_reads": reads,
        "a_clicks": clicks,
        "a_connects": connects,
    }
    db.session.execute(_upsert(db.session.get_bind().dialect.name), params)


def connected(app: Flask, user_id: int, at: datetime | None = None) -> bool:
    """Record a stream opening (once per user per UTC hour in this process) and commit.

    Never raises: activity is a hint, and a stream must open even when the write fails.
    Returns True when a row was written.
    """
    at = at or utcnow()
    hour = (at.date(), at.hour)
    seen: dict[str, Any] = app.extensions.setdefault(_CONNECTED, {"hour": hour, "users": set()})
    if seen["hour"] != hour:  # a new hour: forget the last one's users (bounded, O(1))
        seen["hour"], seen["users"] = hour, set()
    if user_id in seen["users"]:
        return False
    try:
        record(user_id, connects=1, at=at)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning("stream connect of user %s not recorded", user_id, exc_info=True)
        return False
    seen["users"].add(user_id)
    return True


def prune(now: datetime | None = None) -> int:
    """Delete activity older than :data:`KEEP_DAYS` days; return how many rows went."""
    cutoff = ((now or utcnow()) - timedelta(days=KEEP_DAYS)).date()
    result = db.session.execute(delete(ActivityHour).where(ActivityHour.day < cutoff))
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
