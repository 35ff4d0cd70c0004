"""Inbox states beyond read: seen, archived, snoozed, and groups read as one.

Plain functions of (user, ids) so every transport (the API, the pages, a WebSocket) calls
the same code; each is one :func:`notifier.service.inbox.apply`, so each change is an
`update` event on the user's cursor that every open tab follows (and replays on reconnect).

A snooze is durable in the row itself: ``snoozed_until`` is the due time and
``ix_notifications_snoozed`` the queue the scheduler loop reads (:func:`wake_due`), so a
restart loses nothing. Waking clears it, makes the item unread and unseen again, and logs
a `notification` event with a new cursor, so every page announces it like a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update

from notifier.extensions import db
from notifier.models import Notification, User, utcnow
from notifier.service import events, inbox
from notifier.service.errors import ValidationError
from notifier.service.serialize import notification_dict

log = logging.getLogger("notifier.snooze")
N = Notification
MAX_SNOOZE = timedelta(days=30)
#: The page's snooze choices (partials/notification_item.html labels them).
PRESETS = ("1h", "evening", "tomorrow", "next_week")
EVENING_HOUR, MORNING_HOUR = 18, 8


def mark_seen(user: User, ids: Sequence[int]) -> list[int]:
    """Mark the user's notifications among ``ids`` seen; return the ids that changed."""
    return inbox.apply(user, "seen", list(ids))


def archive(user: User, ids: Sequence[int]) -> list[int]:
    """Archive the user's notifications among ``ids``; return the ids that changed."""
    return inbox.apply(user, "archive", list(ids))


def unarchive(user: User, ids: Sequence[int]) -> list[int]:
    """Bring archived notifications among ``ids`` back to the inbox."""
    return inbox.apply(user, "unarchive", list(ids))


def seen_all(user: User) -> int:
    """Mark every notification seen; return how many changed."""
    return len(inbox.apply(user, "seen", None))


def archive_all(user: User, status: str | None = None) -> int:
    """Archive every notification in the inbox (``status="read"``: only read ones)."""
    where = [N.read_at.is_not(None)] if status == "read" else []
    return len(inbox.apply(user, "archive", None, where=[*where, N.archived_at.is_(None)]))


def check_until(until: datetime | None, now: datetime | None = None) -> datetime:
    """Return ``until`` if it lies in (now, now + 30 days], else raise ValidationError."""
    now = now or utcnow()
    if until is None or not now < until <= now + MAX_SNOOZE:
        raise ValidationError(
            "bad snooze time", fields={"until": "an ISO 8601 time after now, within 30 days"}
        )
    return until


def snooze(user: User, notification_id: int, until: datetime | None) -> Notification:
    """Hide one notification until ``until`` (naive UTC); NotFound for others' ids."""
    until = check_until(until)
    inbox.get(user, notification_id)
    # An archived item snoozed comes back to the inbox when it wakes.
    inbox.apply(
        user, "snooze", [notification_id], values={"snoozed_until": until, "archived_at": None}
    )
    return inbox.get(user, notification_id)


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_utc(local: datetime, user: User) -> datetime:
    """Turn a wall-clock time in the user's zone into naive UTC."""
    aware = local.replace(tzinfo=_zone(user))
    return aware.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def to_local(utc: datetime, user: User) -> datetime:
    """Turn a naive-UTC time into the user's wall-clock time."""
    return utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(_zone(user)).replace(tzinfo=None)


def preset_until(preset: str, user: User, now: datetime | None = None) -> datetime | None:
    """Return when a snooze choice ends (naive UTC), in the user's time zone; None if unknown.

    "evening" is 18:00 today (tomorrow's once today's is less than an hour away);
    "tomorrow" 08:00 tomorrow; "next_week" 08:00 next Monday.
    """
    now = now or utcnow()
    zone = _zone(user)
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
    if preset == "1h":
        return now + timedelta(hours=1)
    if preset == "evening":
        evening = local.replace(hour=EVENING_HOUR, minute=0, second=0, microsecond=0)
        if evening - local < timedelta(hours=1):
            evening += timedelta(days=1)
        return to_utc(evening, user)
    morning = local.replace(hour=MORNING_HOUR, minute=0, second=0, microsecond=0)
    if preset == "tomorrow":
        return to_utc(morning + timedelta(days=1), user)
    if preset == "next_week":
        return to_utc(morning + timedelta(days=7 - local.weekday()), user)
    return None


def group_ids(user: User, notification_id: int) -> list[int]:
    """Return the ids of the group the notification heads (itself alone if ungrouped)."""
    n = inbox.get(user, notification_id)
    if not n.group_key:
        return [n.id]
    return list(
        db.session.scalars(
            select(N.id).where(
                N.user_id == user.id,
                N.deleted_at.is_(None),
                N.group_key == n.group_key,
                N.archived_at.is_(None) if n.archived_at is None else N.archived_at.is_not(None),
                N.snoozed_until.is_(None),
            )
        )
    )


def apply_to_group(user: User, notification_id: int, action: str) -> Notification:
    """Apply ``action`` to every member of the group the notification heads; return it."""
    inbox.apply(user, action, group_ids(user, notification_id))
    return inbox.get(user, notification_id)


def wake_due(limit: int = 200, now: datetime | None = None) -> int:
    """Return snoozed notifications whose time has come to the inbox; return how many.

    One transaction per item (an event per user per transaction): the conditional UPDATE is
    the claim, so with several schedulers exactly one wakes it; one that fails is logged and
    retried on the next tick without holding up the rest. ``now``: the clock (tests).
    """
    now = now or utcnow()
    due = db.session.execute(
        select(N.id, N.user_id, N.tenant_id)
        .where(N.snoozed_until.is_not(None), N.snoozed_until <= now, N.deleted_at.is_(None))
        .order_by(N.snoozed_until, N.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    woken = 0
    for nid, uid, tid in due:
        try:
            woken += _wake(int(nid), int(uid), int(tid), now)
        except Exception:  # this row's trouble; the others go on
            db.session.rollback()
            log.exception("snoozed notification %s could not be woken", nid)
    return woken


def _wake(nid: int, uid: int, tid: int, now: datetime) -> int:
    row = db.session.execute(
        update(N)
        .where(N.id == nid, N.snoozed_until.is_not(None), N.snoozed_until <= now)
        .values(snoozed_until=None, read_at=None, seen_at=None)
        .returning(*inbox._ROW_COLUMNS)
    ).first()
    if row is None:  # another scheduler woke it, or it was snoozed again
        db.session.rollback()
        return 0
    data = notification_dict(N(**row._mapping))
    messages = events.append([(uid, tid, "notification", data)])
    db.session.commit()
    events.publish(messages)
    return 1
