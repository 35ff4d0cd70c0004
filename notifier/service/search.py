"""Which notifications a list shows: status, type, tag, priority, time range and full-text.

Full-text search matches every word of ``q`` as a prefix, case-insensitively, against title
and body: SQLite through the FTS5 table ``notifications_fts``, PostgreSQL through the GIN
index over ``to_tsvector('simple', title || ' ' || body)`` (both created in models.py).
Words are runs of letters and digits, so no query syntax of either engine reaches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, table, text

from notifier.extensions import db
from notifier.models import PRIORITIES, Notification
from notifier.service.errors import ValidationError

N = Notification
#: The list's status filter; "all" is the inbox (neither archived nor snoozed).
STATUSES = ("all", "unread", "read", "unseen", "archived", "snoozed")
MAX_WORDS = 10
WORD = re.compile(r"[^\W_]+")
PG_MATCH = text(
    "to_tsvector('simple'::regconfig, (notifications.title || ' ') || notifications.body)"
    " @@ to_tsquery('simple'::regconfig, :fts_query)"
)
FTS = table("notifications_fts")


@dataclass(frozen=True)
class Filters:
    """A list's filters (all optional); ``group`` collapses items sharing a group_key."""

    status: str = "all"
    type: str | None = None
    tag: str | None = None
    priority: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""
    group: bool = False


def words(q: str) -> list[str]:
    """Return the lower-cased search words of ``q`` (at most MAX_WORDS)."""
    return [w.lower() for w in WORD.findall(q or "")][:MAX_WORDS]


def parse_priority(raw: str | None) -> tuple[str, ...]:
    """Parse "high" or "high,urgent"; ValidationError naming ``priority`` for anything else."""
    if not raw:
        return ()
    wanted = tuple(dict.fromkeys(p.strip() for p in raw.split(",")))
    if not all(p in PRIORITIES for p in wanted):
        raise ValidationError(
            "bad priority", fields={"priority": "one or more of " + ", ".join(PRIORITIES)}
        )
    return wanted


def _text_match(q: str) -> ColumnElement[Any] | None:
    found = words(q)
    if not found:
        return None
    if db.engine.dialect.name == "postgresql":
        return PG_MATCH.bindparams(fts_query=" & ".join(f"{w}:*" for w in found))  # type: ignore[return-value]
    # FTS5: each word a quoted string (no operator can get in) with a prefix star; AND implied.
    match = " ".join(f'"{w}"*' for w in found)
    hits: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(FTS)
        .where(literal_column("notifications_fts").op("MATCH")(match))
    )
    return N.id.in_(hits)


def conditions(user_id: int, f: Filters) -> list[ColumnElement[Any]]:
    """Return the WHERE conditions of the user's list under ``f`` (deleted rows never show)."""
    cond: list[ColumnElement[Any]] = [N.user_id == user_id, N.deleted_at.is_(None)]
    if f.status == "archived":
        cond.append(N.archived_at.is_not(None))
    elif f.status == "snoozed":
        cond.append(N.snoozed_until.is_not(None))
    else:
        cond += [N.archived_at.is_(None), N.snoozed_until.is_(None)]
        if f.status == "unread":
            cond.append(N.read_at.is_(None))
        elif f.status == "read":
            cond.append(N.read_at.is_not(None))
        elif f.status == "unseen":
            cond.append(N.seen_at.is_(None))
    if f.type:
        cond.append(N.type == f.type)
    if f.tag:
        escaped = f.tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        cond.append(N.tags_text.like(f"%,{escaped},%", escape="\\"))
    if f.priority:
        cond.append(N.priority.in_(f.priority))
    if f.since is not None:
        cond.append(N.created_at >= f.since)
    if f.until is not None:
        cond.append(N.created_at <= f.until)
    match = _text_match(f.q)
    if match is not None:
        cond.append(match)
    return cond


def group_heads(cond: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    """Return the condition "ungrouped, or the newest of its group" among rows matching ``cond``."""
    newest = select(func.max(N.id)).where(*cond, N.group_key.is_not(None))
    return N.group_key.is_(None) | N.id.in_(newest.group_by(N.group_key))


def group_counts(cond: list[ColumnElement[Any]], keys: set[str]) -> dict[str, int]:
    """Return how many rows matching ``cond`` each group key has."""
    if not keys:
        return {}
    rows = db.session.execute(
        select(N.group_key, func.count())
        .where(and_(*cond), N.group_key.in_(sorted(keys)))
        .group_by(N.group_key)
    ).all()
    return {str(k): int(c) for k, c in rows}
