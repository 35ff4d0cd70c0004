"""Read and change a user's inbox: list, get, stats, and the state changes every tab follows.

Every change goes through :func:`apply`: one conditional ``UPDATE … RETURNING`` of the rows
that actually change, one `update` event on the cursor carrying them, commit, publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update

from notifier.extensions import db
from notifier.models import Notification, User, utcnow
from notifier.service import activity, clean, events, search
from notifier.service import stats as stats_mod
from notifier.service.errors import NotFound, ServiceError
from notifier.service.serialize import notification_dict

MAX_LIMIT = 100
#: What bulk (API and page) accepts; snooze needs a time, so it has its own call.
ACTIONS = ("read", "unread", "seen", "archive", "unarchive", "delete")
#: Every `update` action on the stream (CONTRACT §9).
UPDATE_ACTIONS = (*ACTIONS, "snooze")
#: An ``update`` carries its changed rows up to this many; over it pages re-fetch their list.
ROWS_MAX = 50
_ROW_COLUMNS = tuple(
    getattr(Notification, c)
    for c in (
        "id",
        "tenant_id",
        "user_id",
        "type",
        "title",
        "body",
        "priority",
        "entity_type",
        "entity_id",
        "url",
        "tags_text",
        "created_at",
        "read_at",
        "deleted_at",
        "seen_at",
        "archived_at",
        "snoozed_until",
        "group_key",
        "actions",
    )
)


@dataclass
class Page:
    """One page of the inbox, newest first, with the cursor the page was read at."""

    items: list[Notification]
    unread: int
    total: int
    next: str | None
    cursor: int
    stats: dict[str, int]
    #: group_key → members matching the filters (only when the list was grouped).
    groups: dict[str, int] | None = None

    def item_dicts(self) -> list[dict[str, Any]]:
        """Return the items as JSON dicts, with ``group`` when the list was grouped."""
        out = []
        for n in self.items:
            d = notification_dict(n)
            if self.groups is not None:
                key = n.group_key
                d["group"] = {"key": key, "count": self.groups.get(key, 1)} if key else None
            out.append(d)
        return out


def parse_before(raw: str | None, column: Any = Notification.id) -> int | None:
    """Parse a pagination token (an id of ``column``); ServiceError bad_cursor (400) if bad."""
    if raw is None or raw == "":
        return None
    value = clean.parse_decimal(raw)
    if value is None or not clean.is_id(value, column):
        raise ServiceError(
            "malformed pagination cursor",
            code="bad_cursor",
            fields={"before": "not a cursor returned as next"},
        )
    return value


def _visible(user_id: int) -> Select[Any]:
    return select(Notification).where(
        Notification.user_id == user_id, Notification.deleted_at.is_(None)
    )


def list_page(
    user: User,
    *,
    status: str = "all",
    ntype: str | None = None,
    tag: str | None = None,
    limit: int = 20,
    before: int | None = None,
    filters: search.Filters | None = None,
) -> Page:
    """Return one page newest first; the event cursor is read first so nothing can slip by."""
    f = filters or search.Filters(status=status, type=ntype, tag=tag)
    cursor = events.current_cursor(user.id)
    cond = search.conditions(user.id, f)
    q = select(Notification).where(*cond)
    if f.group:
        q = q.where(search.group_heads(cond))
    if before is not None:
        q = q.where(Notification.id < before)
    limit = max(1, min(limit, MAX_LIMIT))
    rows = list(db.session.scalars(q.order_by(Notification.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    groups = None
    if f.group:
        groups = search.group_counts(cond, {n.group_key for n in rows if n.group_key})
    s = stats(user.id)
    return Page(
        items=rows,
        unread=s["unread"],
        total=s["total"],
        next=str(rows[-1].id) if more and rows else None,
        cursor=cursor,
        stats=s,
        groups=groups,
    )


def stats(user_id: int) -> dict[str, int]:
    """Return {total, unread, read, unseen, archived} (service/stats.py, the one source)."""
    return stats_mod.for_user(user_id)


def recent_unread(user_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """Return up to ``limit`` newest unread notifications as dicts (the `recent` event)."""
    q = _visible(user_id).where(
        Notification.read_at.is_(None),
        Notification.archived_at.is_(None),
        Notification.snoozed_until.is_(None),
    )
    return [
        notification_dict(n)
        for n in db.session.scalars(q.order_by(Notification.id.desc()).limit(limit))
    ]


def visible_rows(user_id: int, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Return the user's visible notifications among ``ids`` as dicts, in id order."""
    ordered = sorted(set(ids))
    out: list[dict[str, Any]] = []
    for i in range(0, len(ordered), 1000):  # bounded IN lists (SQLite's parameter limit)
        q = _visible(user_id).where(Notification.id.in_(ordered[i : i + 1000]))
        out.extend(notification_dict(n) for n in db.session.scalars(q.order_by(Notification.id)))
    return out


def get(user: User, notification_id: int) -> Notification:
    """Return the user's notification or raise NotFound (also for other users' ids)."""
    n: Notification | None = db.session.scalar(
        _visible(user.id).where(Notification.id == notification_id)
    )
    if n is None:
        raise NotFound("notification not found")
    return n


def _change(action: str, now: Any) -> tuple[list[ColumnElement[Any]], dict[str, Any]]:
    """Return (the rows that change, their new values) for ``action``."""
    n = Notification
    if action == "read":  # reading shows it too
        return [n.read_at.is_(None)], {"read_at": now, "seen_at": func.coalesce(n.seen_at, now)}
    if action == "unread":
        return [n.read_at.is_not(None)], {"read_at": None}
    if action == "seen":
        return [n.seen_at.is_(None)], {"seen_at": now}
    if action == "archive":  # an archived item is no longer snoozed: nothing will wake it
        return [n.archived_at.is_(None)], {"archived_at": now, "snoozed_until": None}
    if action == "unarchive":
        return [n.archived_at.is_not(None)], {"archived_at": None}
    return [], {"deleted_at": now}


def apply(
    user: User,
    action: str,
    ids: Sequence[int] | None,
    *,
    values: dict[str, Any] | None = None,
    where: Sequence[ColumnElement[Any]] = (),
) -> list[int]:
    """Change rows that actually change, log one `update` event, commit, publish.

    ``ids`` None means every one of the user's visible notifications; ``values`` and
    ``where`` replace the action's own (snooze sets its time this way).
    """
    if action not in UPDATE_ACTIONS:
        raise ServiceError(
            "unknown action",
            code="validation_error",
            fields={"action": "must be one of " + ", ".join(ACTIONS)},
        )
    cond = [Notification.user_id == user.id, Notification.deleted_at.is_(None), *where]
    if ids is not None:
        if not ids:
            return []
        cond.append(Notification.id.in_(list(ids)))
    own_cond, own_values = _change(action, utcnow())
    if values is None:
        cond += own_cond
        values = own_values
    # Whole rows, not ids: the message carries them so stream renderers need no query.
    # Columns rather than entities, so the session's copies are synchronised as before.
    returned = sorted(
        (
            Notification(**row._mapping)  # transient: only notification_dict reads it
            for row in db.session.execute(
                update(Notification).where(*cond).values(**values).returning(*_ROW_COLUMNS)
            )
        ),
        key=lambda n: n.id,
    )
    changed = [int(n.id) for n in returned]
    messages = []
    if changed and action == "read":  # one act of reading, in the same transaction
        activity.record(user.id, reads=1)
    if changed:
        messages = events.append(
            [(user.id, user.tenant_id, "update", {"action": action, "ids": changed})]
        )
        if action != "delete" and len(returned) <= ROWS_MAX:
            rows = [notification_dict(n) for n in returned]
            messages = [replace(m, rows=rows) for m in messages]
    db.session.commit()
    events.publish(messages)
    return changed


def mark(user: User, notification_id: int, *, read: bool) -> Notification:
    """Mark one notification read or unread; idempotent; NotFound for others' ids."""
    get(user, notification_id)
    apply(user, "read" if read else "unread", [notification_id])
    return get(user, notification_id)


def delete(user: User, notification_id: int) -> None:
    """Soft-delete one notification; NotFound for others' ids."""
    get(user, notification_id)
    apply(user, "delete", [notification_id])


def read_all(user: User) -> int:
    """Mark every unread notification read; return how many changed."""
    return len(apply(user, "read", None))


def bulk(user: User, action: str, ids: Sequence[int]) -> tuple[int, list[int]]:
    """Apply an action to many ids; ids of others or missing ones are reported not found."""
    unique = list(dict.fromkeys(ids))
    mine: set[int] = set()
    for i in range(0, len(unique), 1000):
        mine.update(
            db.session.scalars(
                select(Notification.id).where(
                    Notification.user_id == user.id,
                    Notification.deleted_at.is_(None),
                    Notification.id.in_(unique[i : i + 1000]),
                )
            )
        )
    found = [i for i in unique if i in mine]
    apply(user, action, found)
    # "updated" counts ids now in the requested state, including ones already there.
    return len(found), [i for i in unique if i not in mine]
