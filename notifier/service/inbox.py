"""Read and change a user's inbox: list, get, mark read/unread, delete, bulk, stats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, func, select, update

from notifier.extensions import db
from notifier.models import Notification, User, utcnow
from notifier.service import clean, events
from notifier.service.errors import NotFound, ServiceError
from notifier.service.serialize import notification_dict

MAX_LIMIT = 100
ACTIONS = ("read", "unread", "delete")
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
) -> Page:
    """Return one page newest first; the event cursor is read first so nothing can slip by."""
    cursor = events.current_cursor(user.id)
    q = _visible(user.id)
    if status == "unread":
        q = q.where(Notification.read_at.is_(None))
    elif status == "read":
        q = q.where(Notification.read_at.is_not(None))
    if ntype:
        q = q.where(Notification.type == ntype)
    if tag:
        escaped = tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(Notification.tags_text.like(f"%,{escaped},%", escape="\\"))
    if before is not None:
        q = q.where(Notification.id < before)
    limit = max(1, min(limit, MAX_LIMIT))
    rows = list(db.session.scalars(q.order_by(Notification.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    s = stats(user.id)
    return Page(
        items=rows,
        unread=s["unread"],
        total=s["total"],
        next=str(rows[-1].id) if more and rows else None,
        cursor=cursor,
    )


def stats(user_id: int) -> dict[str, int]:
    """Return {total, unread, read} for the user's visible notifications."""
    total, read = db.session.execute(
        select(func.count(), func.count(Notification.read_at)).where(
            Notification.user_id == user_id, Notification.deleted_at.is_(None)
        )
    ).one()
    return {"total": int(total), "unread": int(total - read), "read": int(read)}


def recent_unread(user_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """Return up to ``limit`` newest unread notifications as dicts (the `recent` event)."""
    q = _visible(user_id).where(Notification.read_at.is_(None))
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
    n = db.session.scalar(_visible(user.id).where(Notification.id == notification_id))
    if n is None:
        raise NotFound("notification not found")
    return n


def _apply(user: User, action: str, ids: Sequence[int] | None) -> list[int]:
    """Change rows that actually change, log one `update` event, commit, publish."""
    if action not in ACTIONS:
        raise ServiceError(
            "unknown action",
            code="validation_error",
            fields={"action": "must be read, unread or delete"},
        )
    cond = [Notification.user_id == user.id, Notification.deleted_at.is_(None)]
    if ids is not None:
        if not ids:
            return []
        cond.append(Notification.id.in_(list(ids)))
    if action == "read":
        cond.append(Notification.read_at.is_(None))
        values: dict[str, Any] = {"read_at": utcnow()}
    elif action == "unread":
        cond.append(Notification.read_at.is_not(None))
        values = {"read_at": None}
    else:
        values = {"deleted_at": utcnow()}
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
    _apply(user, "read" if read else "unread", [notification_id])
    return get(user, notification_id)


def delete(user: User, notification_id: int) -> None:
    """Soft-delete one notification; NotFound for others' ids."""
    get(user, notification_id)
    _apply(user, "delete", [notification_id])


def read_all(user: User) -> int:
    """Mark every unread notification read; return how many changed."""
    return len(_apply(user, "read", None))


def bulk(user: User, action: str, ids: Sequence[int]) -> tuple[int, list[int]]:
    """Apply an action to many ids; ids of others or missing ones are reported not found."""
    unique = list(dict.fromkeys(ids))
    mine = set()
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
    _apply(user, action, found)
    # "updated" counts ids now in the requested state, including ones already there.
    return len(found), [i for i in unique if i not in mine]
