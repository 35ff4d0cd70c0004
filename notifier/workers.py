"""Run one process's background loops: the only place greenlets are started.

``create_app`` builds and starts nothing; the server (``python app.py``, gunicorn's
post_worker_init hook) calls :func:`start_workers` once per process after any fork, and
:func:`stop_workers` on the way out. Tests and CLI commands never spawn anything: they call
the ``*_tick`` functions directly.

Each loop is ``while not stop.wait(interval): tick(app)`` with one stop event for the
group (python-socketio's background tasks). Every tick pushes its own app context for one
iteration, logs and survives its own errors, and commits what it writes in one transaction,
so stopping between ticks (or killing one mid-transaction) never leaves half a change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from typing import Any, cast

import gevent
import gevent.event
from flask import Flask
from gevent.queue import Full
from sqlalchemy import Table, bindparam, delete, func, select, update

from notifier import delivery, node_stats
from notifier.bus.base import Message
from notifier.extensions import db, state
from notifier.models import Event, EventCursor, utcnow
from notifier.service import schedule, workflow_runs
from notifier.stream import reap
from notifier.stream.wire import timestamp

log = logging.getLogger(__name__)

Tick = Callable[[Flask], Any]
NODE_STATS_INTERVAL = 2.0
NODE_STATS_TTL = 10
PRUNE_BATCH = 500  # users per pruning transaction


def tick(fn: Callable[[Flask], Any]) -> Tick:
    """Run ``fn(app)`` in its own app context; log its errors and return None instead."""

    @wraps(fn)
    def run(app: Flask) -> Any:
        with app.app_context():
            try:
                return fn(app)
            except Exception:
                db.session.rollback()
                log.exception("worker tick %s failed; the next one runs as usual", fn.__name__)
                return None

    return run


@tick
def ping_tick(app: Flask) -> int:
    """Queue one shared ``ping`` on every subscription and flag streams that fell behind."""
    hub = state(app).hub
    ping = Message(0, 0, 0, "ping", {"timestamp": timestamp()})  # encoded once for everyone
    queued = 0
    for sub in hub.subscriptions():
        with suppress(Full):  # a full queue overflows on its next message anyway
            sub.queue.put_nowait(ping)
            queued += 1
    _flag_laggards(app)
    return queued


def _flag_laggards(app: Flask) -> int:
    """Replay streams still behind a cursor that was committed a whole ping interval ago.

    The bus is best effort: a message can be lost with no later one to reveal the gap
    (a failed publish while the listener stayed connected). One query per interval for
    all connected users closes that hole; fresh in-flight messages never trigger it.
    """
    st = state(app)
    users = st.hub.connected_user_ids()
    previous: dict[int, int] = st.extra.get("positions", {})
    current: dict[int, int] = {}
    for i in range(0, len(users), 1000):
        rows = db.session.execute(
            select(EventCursor.user_id, EventCursor.value).where(
                EventCursor.user_id.in_(users[i : i + 1000])
            )
        ).all()
        current.update({int(u): int(v) for u, v in rows})
    st.extra["positions"] = current
    flagged = 0
    for sub in st.hub.subscriptions():
        if sub.last_cursor < previous.get(sub.user_id, 0) and not sub.needs_replay:
            sub.needs_replay = True
            sub.wake()
            flagged += 1
    return flagged


@tick
def cleanup_tick(app: Flask) -> int:
    """Drop subscriptions whose clients left or whose streams stopped writing."""
    hub = state(app).hub
    # A healthy stream writes (and touches) at least once per ping interval.
    max_idle = 2 * float(app.config["NOTIFIER_PING_INTERVAL"]) + 1
    return reap(hub) + hub.sweep(max_idle)


@tick
def prune_tick(app: Flask) -> int:
    """Delete events older than retention; record each user's pruned cursor in the same commit.

    Then delete notifications older than their tenant's ``retention_days`` (service/retention.py).
    """
    from notifier.service import activity, retention

    removed = retention.prune_notifications() + activity.prune()
    cutoff = utcnow() - timedelta(days=int(app.config["NOTIFIER_RETENTION_DAYS"]))
    cursors = cast(Table, EventCursor.__table__)
    while True:
        rows = db.session.execute(
            select(Event.user_id, func.max(Event.cursor))
            .where(Event.created_at < cutoff)
            .group_by(Event.user_id)
            .order_by(Event.user_id)
            .limit(PRUNE_BATCH)
        ).all()
        if not rows:
            return removed
        db.session.execute(
            update(cursors)
            .where(cursors.c.user_id == bindparam("b_user"))
            .values(pruned_through=bindparam("b_through")),
            [{"b_user": u, "b_through": c} for u, c in rows],
        )
        result = db.session.execute(
            delete(Event).where(Event.user_id.in_([u for u, _ in rows]), Event.created_at < cutoff)
        )
        db.session.commit()
        removed += int(result.rowcount or 0)  # type: ignore[attr-defined]


@tick
def scheduler_tick(app: Flask) -> int:
    """Send scheduled notifications whose time has come."""
    return schedule.release_due()


@tick
def snooze_tick(app: Flask) -> int:
    """Bring snoozed notifications whose time has come back to their inboxes."""
    from notifier.service import states

    return states.wake_due()


@tick
def node_stats_tick(app: Flask) -> None:
    """Share this process's dashboard numbers and connected users for NODE_STATS_TTL seconds."""
    st = state(app)
    st.broker.publish_node_stats(st.instance, node_stats.local_stats(app), NODE_STATS_TTL)
    # Workflows' `unless: connected` asks every process's presence (bus/base.py).
    st.broker.publish_presence(st.instance, st.hub.connected_user_ids(), NODE_STATS_TTL)


@tick
def delivery_tick(app: Flask) -> int:
    """Claim due deliveries and start their sends; slow ones go on in the channels' pools."""
    return delivery.tick(app, wait=False)


@tick
def workflow_tick(app: Flask) -> int:
    """Advance workflow runs whose next step is due (their sends join the delivery queue)."""
    return workflow_runs.tick()


@dataclass
class Workers:
    """The running loops of one app: one stop event, their greenlets."""

    stop: gevent.event.Event = field(default_factory=gevent.event.Event)
    greenlets: list[gevent.Greenlet[..., Any]] = field(default_factory=list)

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Start ``fn`` in a greenlet owned by this group."""
        self.greenlets.append(gevent.spawn(fn, *args))


def loops(app: Flask) -> list[tuple[float, Tick]]:
    """Return (interval, tick) for every loop this app runs."""
    cfg = app.config
    out: list[tuple[float, Tick]] = [
        (float(cfg["NOTIFIER_PING_INTERVAL"]), ping_tick),
        (float(cfg["NOTIFIER_CLEANUP_INTERVAL"]), cleanup_tick),
        (float(cfg["NOTIFIER_PRUNE_INTERVAL"]), prune_tick),
        (float(cfg["NOTIFIER_SCHEDULER_INTERVAL"]), scheduler_tick),
        (float(cfg["NOTIFIER_SCHEDULER_INTERVAL"]), snooze_tick),
        (NODE_STATS_INTERVAL, node_stats_tick),
        (float(cfg["NOTIFIER_DELIVERY_INTERVAL"]), delivery_tick),
        (float(cfg["NOTIFIER_DELIVERY_INTERVAL"]), workflow_tick),
    ]
    return out


def _loop(stop: gevent.event.Event, interval: float, fn: Tick, app: Flask) -> None:
    while not stop.wait(interval):
        fn(app)


def _retry_bus(stop: gevent.event.Event, app: Flask) -> None:
    """Keep trying to subscribe (1, 2, 4 … 60 s); streams replay what they missed once in."""
    st = state(app)
    delay = 1.0
    while not stop.wait(delay):
        try:
            st.broker.start()
        except Exception as exc:
            log.warning("bus still unavailable: %s", exc)
            delay = min(delay * 2, 60.0)
            continue
        log.info("bus subscribed; streams replay what they missed")
        st.hub.request_replay_all()
        return


def start_workers(app: Flask) -> Workers:
    """Subscribe the bus (blocking until acknowledged), then start every loop; idempotent."""
    st = state(app)
    if st.workers is not None:
        return st.workers
    workers = Workers()
    st.workers = workers
    try:
        st.broker.start()
    except Exception as exc:  # serve anyway: streams work locally and replay once it is back
        log.error("bus unavailable at start (%s); retrying in the background", exc)
        workers.spawn(_retry_bus, workers.stop, app)
    for interval, fn in loops(app):
        workers.spawn(_loop, workers.stop, interval, fn, app)
    return workers


def stop_workers(app: Flask, timeout: float = 5.0) -> int:
    """Drain the hub, stop the loops, then the bus; idempotent. Return how many streams ended.

    The hub refuses new streams from here on and every open one ends with a jittered retry
    hint. The server's side of a drain (Connection: close, idle keep-alive connections shut
    down) is notifier.stream.drain.begin(), which the servers call first.
    """
    st = state(app)
    workers, st.workers = st.workers, None
    streams = st.hub.drain("shutdown")
    if workers is not None:
        workers.stop.set()
        # A tick in progress finishes its transaction; only a stuck one is killed.
        deadline = time.monotonic() + timeout
        gevent.joinall(workers.greenlets, timeout=timeout)
        gevent.killall([g for g in workers.greenlets if not g.dead], block=True, timeout=1)
        # Sends in flight run in the delivery pools, not in the loops: let them record too.
        delivery.drain(app, max(0.0, deadline - time.monotonic()))
    st.broker.stop()
    return streams
