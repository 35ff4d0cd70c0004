"""The per-user event log: cursors taken in the writer's transaction, published after commit.

Cursor allocation locks the user's ``event_cursors`` row (an upsert ``… RETURNING``), so two
transactions writing for the same user commit in cursor order: a reader that has seen cursor
N can never later find a committed N-1. Rows are locked in user-id order to rule out deadlocks
between concurrent fan-outs on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, insert, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from notifier.bus.base import Item, Message
from notifier.extensions import core, db, state
from notifier.models import Event, EventCursor, utcnow
from notifier.service import stats

CHUNK = 2000


def _chunks(seq: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _upsert_cursors(dialect_insert: Any) -> Any:
    table = cast(Table, EventCursor.__table__)
    return (
        dialect_insert(table)
        .on_conflict_do_update(index_elements=[table.c.user_id], set_={"value": table.c.value + 1})
        .returning(table.c.user_id, table.c.value)
    )


#: By "is PostgreSQL"; built once, so each keeps its memoized cache key.
_UPSERT_CURSORS = {True: _upsert_cursors(pg_insert), False: _upsert_cursors(sqlite_insert)}


def allocate_cursors(user_ids: Sequence[int]) -> dict[int, int]:
    """Advance each user's cursor by one inside the current transaction; return new values.

    One upsert per chunk: ``INSERT … ON CONFLICT (user_id) DO UPDATE SET value = value + 1
    RETURNING``. A user created outside create_user() has no row yet; two transactions
    writing its first events both insert, and the second one waits on the first's row and
    then takes the next value instead of failing on the primary key. The VALUES list is in
    user-id order and PostgreSQL takes the row locks in that order, which rules out
    deadlocks between concurrent fan-outs.
    """
    out: dict[int, int] = {}
    ordered = sorted(set(user_ids))
    stmt = _UPSERT_CURSORS[db.engine.dialect.name == "postgresql"]
    for chunk in _chunks(ordered):
        # Core on the table: no ORM object holds a cursor row, and session synchronisation
        # would scan the whole identity map (every recipient a fan-out loaded): 9 % of a storm.
        rows = core().execute(stmt, [{"user_id": u, "value": 1} for u in chunk]).all()
        out.update({int(uid): int(val) for uid, val in rows})
    return out


def stats_for(user_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Count each user's inbox in the current transaction (service/stats.py, the one source)."""
    return stats.for_users(user_ids)


_EVENTS = cast(Table, Event.__table__)
#: The events INSERT answers each row's user and the inbox counts that go with the event:
#: a separate stats query cost one more statement per write. Its snapshot is taken after
#: allocate_cursors() locked the cursor rows, so it sees every earlier writer of that user.
_INSERT_EVENTS = insert(_EVENTS).returning(
    _EVENTS.c.user_id, stats.packed(literal_column("events.user_id"))
)


def append(
    entries: Sequence[tuple[int, int, str, dict[str, Any]]],
) -> list[Message]:
    """Log one event per (user_id, tenant_id, kind, payload) and return the messages to publish.

    Must run inside the transaction that made the change; call :func:`publish` after commit.
    """
    if not entries:
        return []
    cursors = allocate_cursors([e[0] for e in entries])
    if len(cursors) != len(entries):
        raise ValueError("append() takes one event per user per transaction")
    now = utcnow()
    db.session.flush()  # the counts must see the caller's pending ORM changes
    rows = (
        core()
        .execute(
            _INSERT_EVENTS,
            [
                {
                    "user_id": uid,
                    "cursor": cursors[uid],
                    "kind": kind,
                    "payload": payload,
                    "created_at": now,
                }
                for uid, _tid, kind, payload in entries
            ],
        )
        .all()
    )
    counts = {int(uid): stats.unpack(packed) for uid, packed in rows}
    return [
        Message(
            user_id=uid,
            tenant_id=tid,
            cursor=cursors[uid],
            event=kind,
            data=payload,
            stats=counts[uid],
        )
        for uid, tid, kind, payload in entries
    ]


def publish(messages: Sequence[Item]) -> bool:
    """Hand committed events to the bus; a failure only delays them (streams replay the log)."""
    if not messages:
        return True
    try:
        return state().broker.publish(messages)
    except Exception:  # the event log is the source of truth; never fail a committed write
        current_app.logger.exception("bus publish failed; streams will replay from the log")
        return False


def current_cursor(user_id: int) -> int:
    """Return the user's newest cursor (0 before any event)."""
    value = db.session.scalar(select(EventCursor.value).where(EventCursor.user_id == user_id))
    return int(value or 0)
