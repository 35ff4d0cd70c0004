"""Idempotency keys: the first answer to a POST, kept 24 hours per calling user.

A key is claimed inside the transaction of the write it protects: :func:`claim` flushes a
pending row, and the service call that follows calls :func:`record` with the answer right
before its own commit. So key, answer and effect commit together or not at all: a failure
after that commit (a lost connection, a killed worker) leaves an answer a retry replays, a
failed commit leaves nothing, and the unique (user_id, key) constraint decides which of two
concurrent requests with one key goes ahead (the loser waits for the winner's commit).

A committed pending row therefore only comes from a writer that commits before it records
(:func:`complete`, or an older release); it is honoured for PENDING_TTL, not the key's 24 h,
so a crash in that window blocks retries for seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from notifier.extensions import db
from notifier.models import IdempotencyKey, utcnow

TTL = timedelta(hours=24)
# Status of a key whose first request has not answered yet.
PENDING = 0
# A committed pending row older than this is abandoned (its writer died before recording).
PENDING_TTL = timedelta(seconds=10)
# Seconds between sweeps of expired keys in one process; a sweep is one indexed DELETE.
PRUNE_EVERY = 300.0
_last_prune = 0.0


@dataclass(frozen=True)
class Stored:
    """What the first request with a key sent, or PENDING while it runs."""

    request_hash: str
    status: int
    response: dict[str, Any]


def _expired() -> Any:
    """Return the condition of a row that no longer holds its key."""
    now = utcnow()
    return or_(
        IdempotencyKey.created_at < now - TTL,
        (IdempotencyKey.status == PENDING) & (IdempotencyKey.created_at < now - PENDING_TTL),
    )


def lookup(user_id: int, key: str) -> Stored | None:
    """Return the unexpired record of ``key`` for this user, if any."""
    row = db.session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, ~_expired()
        )
    )
    if row is None:
        return None
    return Stored(request_hash=row.request_hash, status=row.status, response=dict(row.response))


def prune(force: bool = False) -> int:
    """Delete expired keys (at most every PRUNE_EVERY seconds per process); return how many."""
    global _last_prune
    now = time.monotonic()
    if not force and now - _last_prune < PRUNE_EVERY:
        return 0
    _last_prune = now
    # Its own short transaction, so the sweep never holds locks across a notify().
    res = db.session.execute(delete(IdempotencyKey).where(_expired()))
    db.session.commit()
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def claim(user_id: int, key: str, request_hash: str) -> Stored | None:
    """Flush a pending row for ``key``; return the winner's record if another request has it.

    Leaves the claim uncommitted: the caller's next service commit stores it.
    """
    prune()
    # An expired key may be reused; its old row must go before the unique constraint sees it.
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, _expired()
        )
    )
    db.session.add(
        IdempotencyKey(
            user_id=user_id, key=key, request_hash=request_hash, status=PENDING, response={}
        )
    )
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return lookup(user_id, key) or Stored(
            request_hash=request_hash, status=PENDING, response={}
        )
    return None


def record(user_id: int, key: str, status: int, response: dict[str, Any]) -> None:
    """Store the answer of the request that claimed ``key`` in the current transaction."""
    db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .values(status=status, response=response)
    )


def complete(user_id: int, key: str, status: int, response: dict[str, Any]) -> None:
    """Record the answer after the effect committed, and commit (views without a hook)."""
    record(user_id, key, status, response)
    db.session.commit()
