"""Claim due Delivery rows under a lease, so that exactly one process sends each claim.

A claim sets ``locked_until`` to ``now + LEASE``. That value doubles as the claim's ownership
token: the worker writes the outcome only where ``locked_until`` still equals it, so a worker
whose lease ran out (and whose rows another worker took over) cannot overwrite the newer result.
A later claim always gets a later token, because a row is only claimable once its lease is past.

Both dialects re-check the claim conditions in the UPDATE that takes the lease, so the UPDATE
alone decides who wins. On PostgreSQL the candidates are first selected ``FOR UPDATE SKIP
LOCKED`` so that concurrent workers pick different rows instead of queueing on the same one.
SQLite serialises writers, so a conditional ``UPDATE … WHERE id = ? AND <claimable>`` per
candidate is atomic and its rowcount says whether this process won the row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, or_, select, update

from notifier.extensions import db
from notifier.models import Delivery
from notifier.service.failures import MAX_REASON, describe, printable

log = logging.getLogger("notifier.delivery")

# The shortest lease (pool.lease_for lengthens it for a long send timeout); a crashed worker's
# rows wait this long before another worker sends them.
LEASE = timedelta(seconds=120)
_SQLITE_CANDIDATES = 8  # Rows to try when another worker wins the first few.


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A copy of one claimed Delivery row, safe to use with no session or transaction."""

    id: int
    tenant_id: int
    user_id: int | None
    notification_id: int | None
    channel: str
    digest: str | None
    webhook_id: int | None
    payload: Any  # A JSON object, unless the row is bad (see jobs.unusable).
    attempts: int
    created_at: datetime
    integration_id: int | None = None  # the chat integration a `chat` row posts to


@dataclass(frozen=True, slots=True)
class Claim:
    """Rows this worker holds under one lease: one row, or one user's digest group."""

    rows: tuple[ClaimedRow, ...]
    lease: datetime
    # Rows taken under the lease that could not even be read; already set aside as dead.
    unreadable: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        """Return how many rows the claim took, readable or not."""
        return len(self.rows) + len(self.unreadable)

    @property
    def ids(self) -> list[int]:
        """Return the ids of the claimed rows."""
        return [row.id for row in self.rows]

    @property
    def first(self) -> ClaimedRow:
        """Return the oldest row (its id names the delivery on the wire)."""
        return self.rows[0]

    @property
    def channel(self) -> str:
        """Return the channel all rows share."""
        return self.rows[0].channel


def claimable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Return the conditions of a row that may be claimed now: pending, due, not leased."""
    return (
        Delivery.status == "pending",
        Delivery.due_at <= now,
        or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
    )


def claim_next(
    now: datetime, *, lease: timedelta = LEASE, skip: Collection[str] = ()
) -> Claim | None:
    """Claim the next due non-digest row and commit; None when nothing is due.

    ``skip`` names channels whose send pool is full: their rows stay in the queue, unleased,
    so they are neither held in memory nor in the way of the other channels' rows.
    """
    query = (
        select(Delivery.id)
        .where(*claimable(now), Delivery.digest.is_(None))
        .order_by(Delivery.due_at, Delivery.id)
    )
    if skip:
        query = query.where(Delivery.channel.not_in(list(skip)))
    return claim_query(query, now, want=1, lease=lease)


def claim_query(
    query: Select[Any], now: datetime, *, want: int, lease: timedelta = LEASE
) -> Claim | None:
    """Take the lease on up to ``want`` rows the query finds and commit, then copy them out.

    The lease is committed before the rows are read, so a row the database cannot hand back
    (a payload that is not JSON) is set aside under it instead of losing the lease with the
    rollback and coming first in the queue again on every tick.
    """
    token = now + lease
    ids = _take(query, now, token, want)
    if not ids:
        db.session.rollback()
        return None
    db.session.commit()
    unreadable: list[int] = []
    try:
        rows = _read(ids)
    except Exception:
        db.session.rollback()
        rows = []
        for one in ids:
            try:
                rows += _read([one])
            except json.JSONDecodeError as exc:  # Not JSON (written by hand): keep it out.
                db.session.rollback()
                log.exception("delivery %s cannot be read; set aside as dead", one)
                reason = f"the stored payload is not JSON ({describe(exc)}); it was cleared"
                set_aside([one], token, reason, clear_payload=True)
                unreadable.append(one)
    db.session.rollback()  # Reads only since the commit.
    return Claim(tuple(rows), token, tuple(unreadable))


def _read(ids: list[int]) -> list[ClaimedRow]:
    rows = db.session.scalars(
        select(Delivery)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
        .execution_options(populate_existing=True)
    ).all()
    return [_copy(row) for row in rows]


def set_aside(ids: list[int], lease: datetime, reason: str, *, clear_payload: bool = False) -> int:
    """Mark claimed rows dead with ``reason`` in a fresh transaction, while still ours.

    For rows that cannot be processed at all: they go to the dead letters (where an admin sees
    the reason and can retry) instead of back to the queue. A payload that is not JSON is
    replaced by JSON ``null``, or every later read of the row (the dead letters) would fail
    too. Returns the rows written.
    """
    values: dict[str, Any] = {
        "status": "dead",
        "last_error": printable(reason)[:MAX_REASON],
        "attempts": Delivery.attempts + 1,
        "locked_until": None,
    }
    if clear_payload:
        values["payload"] = JSON.NULL
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == "pending", Delivery.locked_until == lease)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _take(query: Select[Any], now: datetime, lease: datetime, want: int) -> list[int]:
    """Set the lease on rows no other worker holds; return the ids this worker won."""
    if db.engine.dialect.name == "postgresql":
        candidates = list(db.session.scalars(query.limit(want).with_for_update(skip_locked=True)))
        if not candidates:
            return []
        result = db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(candidates), *claimable(now))
            .values(locked_until=lease)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(int(i) for i in result.scalars())
    won: list[int] = []
    for candidate in list(db.session.scalars(query.limit(want + _SQLITE_CANDIDATES))):
        result = db.session.execute(
            update(Delivery)
            .where(Delivery.id == candidate, *claimable(now))
            .values(locked_until=lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            won.append(int(candidate))
            if len(won) >= want:
                break
    return won


def _copy(row: Delivery) -> ClaimedRow:
    return ClaimedRow(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        notification_id=row.notification_id,
        channel=row.channel,
        digest=row.digest,
        webhook_id=row.webhook_id,
        # Kept as stored even when it is not an object: the worker sets such a row aside.
        payload=dict(row.payload) if isinstance(row.payload, dict) else row.payload,
        attempts=row.attempts or 0,
        created_at=row.created_at,
        integration_id=row.integration_id,
    )
