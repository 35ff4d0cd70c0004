"""Store a uniform tenant fan-out with one INSERT … SELECT per table and return ONE bus item.

A broadcast whose recipients all get the same inbox row (no template: only the user and the
"why" trail differ) is written without a parameter row per recipient: the shared content is
bound once and the user ids travel as one array (SQLite ``json_each``, PostgreSQL
``unnest``). Three statements whatever the audience size:

1. the inbox rows, ``INSERT … SELECT`` from the id array, ``RETURNING id, user_id`` (one per
   distinct "why" trail; recipients without stored preferences share one);
2. the cursors, one ``INSERT … SELECT … ON CONFLICT DO UPDATE SET value = value + 1`` (the
   row locks in user-id order, as :func:`~notifier.service.events.allocate_cursors`);
3. the event log, ``INSERT … SELECT`` joining the new inbox rows to their users' cursors,
   the payload built in SQL from the shared JSON with each row's id set, ``RETURNING``
   the user, the cursor and the inbox counts (taken after the cursor lock, as append()).

What it returns is one :class:`~notifier.bus.base.Fanout`: the shared payload once and
``(user, cursor, notification id, counts)`` per recipient.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    column,
    func,
    insert,
    literal_column,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import TypeEngine

from notifier.bus.base import Entry, Fanout
from notifier.extensions import core, db
from notifier.models import Event, EventCursor, Notification
from notifier.service import stats
from notifier.service.serialize import notification_payload

#: Recipients per statement: bounds one statement's work (and SQLite's one JSON argument).
CHUNK = 10_000
_INBOX = cast(Table, Notification.__table__)
_EVENTS = cast(Table, Event.__table__)
_CURSORS = cast(Table, EventCursor.__table__)
#: The inbox columns a uniform row sets (the rest keep their NULL).
SHARED_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("tenant_id", BigInteger()),
    ("type", String()),
    ("title", String()),
    ("body", Text()),
    ("priority", String()),
    ("entity_type", String()),
    ("entity_id", String()),
    ("url", String()),
    ("tags_text", String()),
    ("group_key", String()),
    ("actions", JSON()),
    ("decision", JSON()),
    ("created_at", DateTime()),
)


def _param(pg: bool, name: str, type_: TypeEngine[Any]) -> Any:
    """A bound value in a SELECT list: typed by a CAST on PostgreSQL (it cannot infer it).

    Never on SQLite: there ``CAST(x AS JSON)`` would take numeric affinity and ruin the text.
    """
    param = bindparam(name, type_=type_)
    return sql_cast(param, type_) if pg else param


def _id_array(pg: bool, name: str) -> Any:
    """A table of the ids bound as ``name``, column ``value`` (a list; JSON text on SQLite)."""
    if pg:
        return (
            func.unnest(bindparam(name, type_=ARRAY(BigInteger())))
            .table_valued(column("value", BigInteger()))
            .render_derived()
        )
    return func.json_each(bindparam(name, type_=String())).table_valued(column("value", Integer()))


def _statements(pg: bool) -> tuple[Any, Any, Any]:
    """Build the three statements of a uniform fan-out for one dialect."""
    users = _id_array(pg, "user_ids")
    inbox = insert(_INBOX).from_select(
        ["user_id", *(name for name, _ in SHARED_COLUMNS)],
        select(users.c.value, *(_param(pg, n, t) for n, t in SHARED_COLUMNS)).select_from(users),
    )
    inbox = inbox.returning(_INBOX.c.id, _INBOX.c.user_id)
    targets = _id_array(pg, "user_ids")
    upsert = (pg_insert if pg else sqlite_insert)(_CURSORS).from_select(
        ["user_id", "value"],
        # SQLite needs the WHERE: without it "ON CONFLICT" would parse as a join constraint.
        select(targets.c.value, literal_column("1")).select_from(targets).where(true()),
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[_CURSORS.c.user_id], set_={"value": _CURSORS.c.value + 1}
    )
    rows = _id_array(pg, "notification_ids")
    n, c = _INBOX.alias("n"), _CURSORS.alias("c")
    shared = bindparam("payload", type_=String())
    if pg:  # jsonb || {"id": n.id}, stored in the JSON column
        payload: Any = sql_cast(
            sql_cast(shared, JSONB()).op("||")(func.jsonb_build_object("id", n.c.id)), JSON()
        )
    else:  # json_set replaces the placeholder "id" in place (it stays the first key)
        payload = func.json_set(shared, "$.id", n.c.id)
    log = insert(_EVENTS).from_select(
        ["user_id", "cursor", "kind", "payload", "created_at"],
        select(
            n.c.user_id,
            c.c.value,
            _param(pg, "kind", String()),
            payload,
            _param(pg, "created_at", DateTime()),
        )
        .select_from(n.join(c, c.c.user_id == n.c.user_id))
        .where(n.c.id.in_(select(rows.c.value))),
    )
    log = log.returning(
        _EVENTS.c.user_id, _EVENTS.c.cursor, stats.packed(literal_column("events.user_id"))
    )
    return inbox, upsert, log


_BUILT: dict[bool, tuple[Any, Any, Any]] = {}


def _built() -> tuple[Any, Any, Any]:
    pg = db.engine.dialect.name == "postgresql"
    if pg not in _BUILT:  # built once per dialect: reused statements keep their cache key
        _BUILT[pg] = _statements(pg)
    return _BUILT[pg]


def _ids(values: Sequence[int]) -> Any:
    """Bind a list of ids: a list for PostgreSQL's ARRAY, JSON text for SQLite's json_each."""
    ids = [int(v) for v in values]
    return ids if db.engine.dialect.name == "postgresql" else json.dumps(ids)


def _chunks(seq: Sequence[int]) -> list[Sequence[int]]:
    return [seq[i : i + CHUNK] for i in range(0, len(seq), CHUNK)]


def insert_inbox(
    shared: dict[str, Any], by_decision: Sequence[tuple[Any, list[int]]]
) -> dict[int, int]:
    """Insert one inbox row per user from the shared columns; return {user_id: row id}.

    ``by_decision`` groups the users by their "why" trail (one statement per group and
    chunk): most recipients of a broadcast share one.
    """
    stmt = _built()[0]
    out: dict[int, int] = {}
    for decision, users in by_decision:
        for chunk in _chunks(users):
            params = {**shared, "decision": decision, "user_ids": _ids(chunk)}
            out.update({int(u): int(i) for i, u in core().execute(stmt, params)})
    return out


def append(
    tenant_id: int,
    kind: str,
    payload: dict[str, Any],
    nid_of: dict[int, int],
    order: Sequence[int],
    now: datetime,
) -> Fanout:
    """Take each user's next cursor and log the event for all; return the one Fanout.

    ``payload`` is the shared event data without ``id``; each user's row gets the id of
    their inbox row (``nid_of``). ``order``: the recipients in the publisher's order.
    """
    _, upsert, log = _built()
    ordered = sorted(nid_of)
    for chunk in _chunks(ordered):  # locks in user-id order, as allocate_cursors()
        core().execute(upsert, {"user_ids": _ids(chunk)})
    db.session.flush()  # the counts must see the caller's pending ORM changes
    logged: dict[int, tuple[int, str | None]] = {}
    text = json.dumps({"id": 0, **payload}, separators=(",", ":"), ensure_ascii=False)
    nids = [nid_of[u] for u in ordered]
    for chunk in _chunks(nids):
        rows = core().execute(
            log,
            {
                "notification_ids": _ids(chunk),
                "payload": text,
                "kind": kind,
                "created_at": now,
            },
        )
        logged.update({int(u): (int(c), packed) for u, c, packed in rows})
    if len(logged) != len(nid_of):
        raise RuntimeError("the fan-out logged an event for every recipient but some")
    entries: list[Entry] = []
    for uid in order:
        cursor, packed = logged[uid]
        counts = stats.unpack(packed)
        entries.append(
            (
                uid,
                cursor,
                nid_of[uid],
                counts["total"],
                counts["unread"],
                counts["unseen"],
                counts["archived"],
            )
        )
    return Fanout(tenant_id, kind, payload, entries, key=uuid.uuid4().hex)


def uniform(rows: list[dict[str, Any]]) -> bool:
    """Return True for inbox rows :func:`store` can write: 2+ users, no template, no repeats."""
    if len(rows) < 2 or any("variant" in row for row in rows):
        return False
    return len({row["user_id"] for row in rows}) == len(rows)


def store(
    rows: list[dict[str, Any]], tenant_id: int, fields: dict[str, Any], now: datetime
) -> tuple[list[int], Fanout]:
    """Write a uniform fan-out's inbox rows and events; return the ids (rows' order), Fanout.

    ``rows`` are notify_plan.plan()'s inbox rows; ``fields`` the notification's content.
    """
    first = rows[0]
    shared = {name: first[name] for name, _ in SHARED_COLUMNS if name in first}
    shared["created_at"] = now
    # Recipients without stored preferences share one "why" trail object (plan() memoizes).
    groups: dict[int, tuple[Any, list[int]]] = {}
    for row in rows:
        groups.setdefault(id(row["decision"]), (row["decision"], []))[1].append(row["user_id"])
    by_text: dict[str, tuple[Any, list[int]]] = {}
    for decision, users in groups.values():
        by_text.setdefault(json.dumps(decision, sort_keys=True), (decision, []))[1].extend(users)
    nid_of = insert_inbox(shared, list(by_text.values()))
    order = [row["user_id"] for row in rows]
    payload = notification_payload(fields, id=0, created_at=now)
    del payload["id"]  # each recipient's own: set by the log INSERT, spliced by the renderers
    fanout = append(tenant_id, "notification", payload, nid_of, order, now)
    return [nid_of[u] for u in order], fanout
