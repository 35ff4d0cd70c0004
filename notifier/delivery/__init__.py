"""Send queued external deliveries (email, push, sms, webhook): claim, send, record.

``service.notify()`` commits one ``Delivery`` row per recipient and external channel; the
delivery loop in ``workers.py`` calls :func:`tick` every second in every process. One tick:

1. claims a due row (``status = pending``, ``due_at <= now``, lease free) by setting
   ``locked_until = now + LEASE`` and commits (see :mod:`notifier.delivery.claim`);
2. looks up the target (address, phone, push subscriptions, webhook endpoint) and ends the
   read transaction: no transaction is ever open during a network send;
3. sends through the channel built once per app from ``build_channels(app.config)``, in a
   greenlet of the channel's bounded pool and under a deadline (see :mod:`notifier.delivery.pool`):
   a frozen channel holds up only its own pool, and the tick claims nothing for a full one;
4. records the result where the lease is still this worker's: ``sent``; a retry at
   ``NOTIFIER_RETRY_BASE * 2**(attempt-1)`` seconds (±20 % jitter, capped at 10 minutes, or
   the receiver's longer Retry-After); ``dead`` after ``NOTIFIER_RETRY_MAX_ATTEMPTS`` attempts,
   on a permanent failure, or when there is nothing to send to.

One bad row never stalls the queue (CONTRACT §8). A row that cannot be processed is set aside
as ``dead`` with the reason (the admin's dead letters) and the tick goes on with the next one:
a row that cannot be read, a payload no channel can send (not an object, a lone surrogate or
NUL), and any unexpected exception while planning, sending or recording. Unexpected errors are
not retried (they come back the same each time); a digest that hits one is split in halves
and each half sent on its own, so only the row at fault is set aside.

Delivery is at least once. A process that dies between sending and recording leaves the row
leased; when the lease runs out another worker sends it again. Webhook receivers deduplicate
with ``X-Notifier-Delivery`` (the same on every retry), push messages carry a stable ``tag``
so a repeat replaces the notification on screen; an email can arrive twice.

Digests: ``digest`` rows (hourly or daily, email) are claimed per user, channel and mode, once
the window they were created in has closed: hourly on the hour (UTC), daily at 08:00 in the
recipient's time zone. All rows of closed windows go out as one message with many items.
Quiet hours need nothing here: ``notify`` sets ``due_at`` to their end, and rows wait until due.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from flask import Flask

from notifier import metrics_delivery
from notifier.channels import Channel, build_channels
from notifier.delivery.claim import LEASE, Claim, claim_next, set_aside
from notifier.delivery.digest_claim import claim_digest, digest_groups
from notifier.delivery.jobs import Outcome, plan, send, unusable
from notifier.delivery.outcome import Recorded, backoff, record, redact
from notifier.delivery.pool import (
    DEFAULT_CONCURRENCY,
    Bounded,
    Pools,
    lease_for,
    timeout_for,
)
from notifier.extensions import db
from notifier.models import utcnow
from notifier.service.failures import describe

__all__ = [
    "LEASE",
    "backoff",
    "channels_for",
    "drain",
    "pools_for",
    "tick",
]

log = logging.getLogger("notifier.delivery")
EXTENSION = "notifier.delivery.channels"
POOLS = "notifier.delivery.pools"
_COUNTER = {"sent": "sent", "retry": "failed", "dead": "dead"}


def channels_for(app: Flask) -> dict[str, Channel]:
    """Return the app's external channels, built from its config on first use."""
    channels = app.extensions.get(EXTENSION)
    if channels is None:
        channels = app.extensions[EXTENSION] = build_channels(app.config)
    return channels


def pools_for(app: Flask) -> Pools:
    """Return the app's send pools (NOTIFIER_DELIVERY_CONCURRENCY per channel)."""
    pools = app.extensions.get(POOLS)
    if pools is None:
        size = app.config.get("NOTIFIER_DELIVERY_CONCURRENCY") or DEFAULT_CONCURRENCY
        pools = app.extensions[POOLS] = Pools(int(size))
    return pools


def tick(app: Flask, *, limit: int = 100, wait: bool = True) -> int:
    """Claim up to ``limit`` due rows and send them in the channels' pools; return how many.

    With ``wait`` (tests, CLI) it returns once every send has been recorded; the worker loop
    passes ``wait=False`` and ticks again while slow sends are still in flight.
    """
    pools = pools_for(app)
    with app.app_context():
        channels = channels_for(app)
        lease = lease_for(app.config)
        handled = 0
        # Digest groups first: there are few, and a busy immediate queue must not starve them.
        for group in digest_groups(utcnow(), limit):
            if handled >= limit:
                break
            if not pools.has_room(group.channel):
                continue
            claim = claim_digest(group, utcnow(), lease=lease)
            if claim is not None:
                handled += _dispatch(app, claim, channels, pools)
        while handled < limit:
            claim = claim_next(utcnow(), lease=lease, skip=pools.full())
            if claim is None:
                break
            handled += _dispatch(app, claim, channels, pools)
    if wait:
        pools.join()
    return handled


def drain(app: Flask, timeout: float) -> None:
    """Let the sends in flight finish for up to ``timeout`` seconds, then stop the rest."""
    pools = app.extensions.get(POOLS)
    if pools is not None and not pools.join(timeout):
        log.warning("stopping with sends in flight %s; they go again after the lease", pools.busy())
        pools.kill()


def _dispatch(app: Flask, claim: Claim, channels: dict[str, Channel], pools: Pools) -> int:
    """Start sending one claim in its channel's pool; return the number of rows it covered."""
    if claim.rows:
        pools.spawn(claim.channel, _run, app, claim, channels)
    return claim.size


def _run(app: Flask, claim: Claim, channels: dict[str, Channel]) -> None:
    """Send one claim in a greenlet of its own, with its own app context and session."""
    with app.app_context():
        try:
            _deliver(app, claim, channels)
        except Exception:  # _deliver records its own failures; this is the last guard.
            db.session.rollback()
            log.exception("delivery %s %s: not recorded", claim.first.id, claim.channel)


def _deliver(app: Flask, claim: Claim, channels: dict[str, Channel]) -> None:
    """Set aside the claim's unusable rows, then send and record the rest."""
    bad = [(row, why) for row in claim.rows if (why := unusable(row.payload)) is not None]
    for row, why in bad:
        _set_aside(replace(claim, rows=(row,), unreadable=()), why)
    rows = tuple(row for row in claim.rows if unusable(row.payload) is None)
    if rows:
        _send(app, replace(claim, rows=rows, unreadable=()), channels)


def _send(app: Flask, claim: Claim, channels: dict[str, Channel]) -> None:
    """Plan, send and record one claim of usable rows; set it aside on an unexpected error."""
    channel = channels.get(claim.channel)
    if channel is not None:
        channel = Bounded(channel, timeout_for(app.config), claim.lease)
    try:
        outcome = send(plan(claim, channels), channel)
    except Exception as exc:
        db.session.rollback()
        log.exception("delivery %s %s: unexpected error", claim.first.id, claim.channel)
        outcome = Outcome("dead", f"unexpected {describe(exc)}", unexpected=True)
    if outcome.unexpected and len(claim.rows) > 1:
        half = len(claim.rows) // 2  # Same lease: both halves are still this worker's.
        _send(app, replace(claim, rows=claim.rows[:half]), channels)
        _send(app, replace(claim, rows=claim.rows[half:]), channels)
        return
    try:
        recorded = record(claim, outcome, app.config, utcnow())
    except Exception as exc:
        db.session.rollback()
        log.exception("delivery %s: could not record the outcome", claim.first.id)
        _set_aside(claim, f"could not record the outcome: {describe(exc)}")
        return
    _log(claim, recorded)
    if recorded.status in _COUNTER:
        metrics_delivery.record_outcome(_COUNTER[recorded.status], claim.channel, len(claim.rows))


def _set_aside(claim: Claim, reason: str) -> None:
    """Put the claim's rows in the dead letters with ``reason``; the queue goes on."""
    attempt = max(row.attempts for row in claim.rows) + 1
    reason = redact(reason) or ""
    written = set_aside(claim.ids, claim.lease, reason)
    recorded = Recorded("dead" if written else "lost", attempt, reason)
    _log(claim, recorded)
    if written:
        metrics_delivery.record_outcome("dead", claim.channel, written)


def _log(claim: Claim, recorded: Recorded) -> None:
    """Log one line per outcome: ids, channel, attempt, error; never targets or content."""
    first = claim.first
    what = f"delivery {first.id} {claim.channel}"
    if len(claim.rows) > 1:
        what += f" digest of {len(claim.rows)} (ids {first.id}..{claim.rows[-1].id})"
    where = f"tenant={first.tenant_id} user={first.user_id} attempt={recorded.attempt}"
    if recorded.status == "sent":
        log.info("%s sent %s", what, where)
    elif recorded.status == "retry":
        log.warning("%s retry in %.0fs %s: %s", what, recorded.delay, where, recorded.error)
    elif recorded.status == "dead":
        log.warning("%s dead %s: %s", what, where, recorded.error)
    else:
        log.warning("%s result dropped: the lease expired and another worker took it", what)
