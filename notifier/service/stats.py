"""The one source of inbox counts: {total, unread, read, unseen, archived} per user.

Every caller (the API's /stats and list, the `stats` stream event, the badge and the page
title) reads this one aggregate. It is a single ``GROUP BY user_id`` of ``COUNT(CASE …)``
over ``ix_notifications_states``, which holds every column it looks at, so the database
answers from the index alone; counters kept beside each write were the alternative, but
every state change (and a snooze waking up) would then have to update them in step, and a
missed path would drift for good, while the aggregate can never disagree with the rows.

``total`` counts what the inbox list shows (not archived, not snoozed); ``read`` and
``unread`` split it, ``unseen`` is the part of it never shown in a visible list, and
``archived`` counts archived items (snoozed ones appear in none until they return).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, and_, bindparam, case, cast, func, select

from notifier.extensions import core, db
from notifier.models import Notification

FIELDS = ("total", "unread", "read", "unseen", "archived")
CHUNK = 2000
N = Notification


def empty() -> dict[str, int]:
    """Return the counts of an empty inbox."""
    return dict.fromkeys(FIELDS, 0)


_T = Notification.__table__
_LISTED = and_(_T.c.archived_at.is_(None), _T.c.snoozed_until.is_(None))
_COUNTS = (
    func.count(case((_LISTED, 1))),
    func.count(case((and_(_LISTED, _T.c.read_at.is_(None)), 1))),
    func.count(case((and_(_LISTED, _T.c.seen_at.is_(None)), 1))),
    func.count(_T.c.archived_at),
)
# Built once: constructing the CASE expressions and the ORM statement for every call was
# most of a GET /stats (py-spy: for_users 39 % of the request, a third of it building the
# statement, another in ORM execution); Core on the session's connection runs the same SQL.
_MANY = (
    select(_T.c.user_id, *_COUNTS)
    .where(_T.c.user_id.in_(bindparam("ids", expanding=True)), _T.c.deleted_at.is_(None))
    .group_by(_T.c.user_id)
)
_ONE = select(*_COUNTS).where(_T.c.user_id == bindparam("uid"), _T.c.deleted_at.is_(None))


def _connection() -> Connection:
    """Return the session's connection after the flush Session.execute would have done."""
    session = db.session
    if session.autoflush:
        session.flush()  # nothing to write: returns at once; else the counts must see it
    return core()


def _counts(total: int, unread: int, unseen: int, archived: int) -> dict[str, int]:
    return {
        "total": int(total),
        "unread": int(unread),
        "read": int(total - unread),
        "unseen": int(unseen),
        "archived": int(archived),
    }


def for_users(user_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Return each user's counts, read in the current transaction."""
    out = {uid: empty() for uid in user_ids}
    ids = list(out)
    conn = _connection()
    for i in range(0, len(ids), CHUNK):
        for uid, total, unread, unseen, archived in conn.execute(
            _MANY, {"ids": ids[i : i + CHUNK]}
        ):
            out[uid] = _counts(total, unread, unseen, archived)
    return out


def packed(user_id: Any) -> Any:
    """Return a scalar subquery of a user's counts as one string "total,unread,unseen,archived".

    ``user_id`` is the outer statement's column, named literally (``literal_column``): an
    INSERT's RETURNING does not correlate the way a SELECT does.

    One string so that a single index scan answers all four where a statement can hold only
    a scalar (an INSERT's RETURNING); :func:`unpack` reads it. Same conditions as for_users().
    """
    listed = and_(N.archived_at.is_(None), N.snoozed_until.is_(None))
    counts = [
        func.count(case((listed, 1))),
        func.count(case((and_(listed, N.read_at.is_(None)), 1))),
        func.count(case((and_(listed, N.seen_at.is_(None)), 1))),
        func.count(N.archived_at),
    ]
    text: ColumnElement[str] = cast(counts[0], String)
    for c in counts[1:]:
        text = text.concat(",").concat(cast(c, String))
    return select(text).where(N.user_id == user_id, N.deleted_at.is_(None)).scalar_subquery()


def unpack(value: str | None) -> dict[str, int]:
    """Return the counts :func:`packed` answered."""
    if not value:
        return empty()
    total, unread, unseen, archived = (int(v) for v in value.split(","))
    return {
        "total": total,
        "unread": unread,
        "read": total - unread,
        "unseen": unseen,
        "archived": archived,
    }


def for_user(user_id: int) -> dict[str, int]:
    """Return one user's counts (one aggregate row, zeros for an empty inbox)."""
    total, unread, unseen, archived = _connection().execute(_ONE, {"uid": user_id}).one()
    return _counts(total, unread, unseen, archived)
