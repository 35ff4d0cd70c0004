"""Background loops: each tick directly, their error handling, and start/stop of the group."""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta

import gevent
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from notifier import workers
from notifier.extensions import db, state
from notifier.models import Event, EventCursor, Notification, ScheduledNotification, utcnow
from notifier.stream import conn
from tests.factories import World, send


def test_ping_tick_queues_one_shared_ping_on_every_subscription(app: Flask, world: World) -> None:
    hub = state().hub
    subs = [
        hub.subscribe(world.alice.id, 1),
        hub.subscribe(world.alice.id, 1),
        hub.subscribe(world.bob.id, 1),
    ]
    assert workers.ping_tick(app) == 3
    pings = [s.get(timeout=1) for s in subs]
    assert all(p is not None and p.event == "ping" and p.cursor == 0 for p in pings)
    assert pings[0] is pings[1] is pings[2]  # one object: encoded once for every stream
    assert set(pings[0].data) == {"timestamp"}


def test_ping_tick_skips_full_queues(tmp_path: object) -> None:
    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path}/p.sqlite", NOTIFIER_QUEUE_SIZE=1)
    with app.app_context():
        sub = state().hub.subscribe(1, 1)
        assert workers.ping_tick(app) == 1
        assert workers.ping_tick(app) == 0  # full: skipped, never blocks the loop
        assert not sub.closed
        db.engine.dispose()


def test_ping_tick_replays_streams_stuck_behind_an_old_cursor(app: Flask, world: World) -> None:
    hub = state().hub
    send(world.alice, "a")  # cursor 1
    behind = hub.subscribe(world.alice.id, world.alice.tenant_id)
    current = hub.subscribe(world.alice.id, world.alice.tenant_id)
    behind.last_cursor, current.last_cursor = 0, 1
    workers.ping_tick(app)  # first look: cursor 1 may still be in flight
    assert not behind.needs_replay
    workers.ping_tick(app)  # a whole interval later it is not: replay
    assert behind.needs_replay and not current.needs_replay


def test_cleanup_tick_sweeps_idle_and_reaps_closed_connections(app: Flask, world: World) -> None:
    hub = state().hub
    idle = hub.subscribe(world.alice.id, 1)
    idle.last_seen = time.time() - 3600  # its stream stopped writing long ago
    gone = hub.subscribe(world.bob.id, 1)
    alive = hub.subscribe(world.bob.id, 1)
    server_gone, client_gone = socket.socketpair()
    server_alive, client_alive = socket.socketpair()
    conn.register(gone, server_gone, user_timeout_s=10)
    conn.register(alive, server_alive, user_timeout_s=10)
    client_gone.close()  # the client went away: FIN
    try:
        assert workers.cleanup_tick(app) == 2
        assert (idle.close_reason, gone.close_reason) == ("idle", "gone")
        assert hub.subscriptions() == [alive] and not alive.closed
    finally:
        for s in (server_gone, server_alive, client_alive):
            s.close()
        conn.unregister(alive)


def test_overflow_shuts_down_a_stuck_writer_and_spares_an_idle_one(
    app: Flask, world: World
) -> None:
    """A stream blocked writing to a client that stopped reading is cut, not leaked; one
    waiting for messages is left to end itself with a retry hint."""
    hub = state().hub
    stuck, waiting = hub.subscribe(world.alice.id, 1), hub.subscribe(world.alice.id, 1)
    pairs = [socket.socketpair(), socket.socketpair()]
    tcp_stuck = conn.register(stuck, pairs[0][0], user_timeout_s=10)
    tcp_waiting = conn.register(waiting, pairs[1][0], user_timeout_s=10)
    assert tcp_stuck is not None and tcp_waiting is not None
    tcp_stuck.writing = True
    try:
        hub.unsubscribe(stuck, "overflow")
        hub.unsubscribe(waiting, "overflow")
        with pytest.raises(OSError):
            for _ in range(10000):  # a shut-down socket refuses writes at once
                pairs[0][0].send(b"x" * 65536)
        pairs[1][0].send(b"retry: 3000\n\n")  # still writable: the farewell goes out
        assert pairs[1][1].recv(100) == b"retry: 3000\n\n"
    finally:
        conn.unregister(waiting)
        for a, b in pairs:
            a.close()
            b.close()


def _old_events(app: Flask, world: World, count: int, days: int) -> None:
    for i in range(count):
        send(world.alice, f"old {i}")
    db.session.execute(
        update(Event)
        .where(Event.user_id == world.alice.id)
        .values(created_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()


def test_prune_tick_deletes_old_events_and_records_pruned_through(app: Flask, world: World) -> None:
    _old_events(app, world, 3, days=40)
    send(world.alice, "recent")  # cursor 4 stays
    send(world.bob, "recent too")
    assert workers.prune_tick(app) == 3
    cursors = db.session.scalars(select(Event.cursor).where(Event.user_id == world.alice.id))
    assert list(cursors) == [4]
    row = db.session.get(EventCursor, world.alice.id)
    db.session.refresh(row)
    assert (row.value, row.pruned_through) == (4, 3)
    bob = db.session.get(EventCursor, world.bob.id)
    assert bob.pruned_through == 0
    assert workers.prune_tick(app) == 0  # nothing left to prune
    # Notifications themselves are the inbox: retention prunes the log only.
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 5


def test_pruned_cursor_gets_reset_on_the_stream(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from tests.sse_client import Tab, names

    _old_events(app, world, 3, days=40)
    workers.prune_tick(app)
    tab = Tab(client, headers={**world.alice_h, "Last-Event-ID": "1"})
    try:
        evs = tab.read()
        assert names(evs) == ["connected", "reset", "stats"]
        assert evs[1].json() == {"reason": "cursor_expired"}
    finally:
        tab.close()


def test_scheduler_tick_releases_due_notifications(
    app: Flask, client: FlaskClient, world: World
) -> None:
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    resp = client.post(
        "/api/v1/notifications",
        headers=world.admin_h,
        json={
            "user_id": world.alice.id,
            "type": "comment",
            "title": "later",
            "send_at": when,
            "channels": ["in_app"],
        },
    )
    assert resp.status_code == 202
    assert workers.scheduler_tick(app) == 0
    db.session.execute(
        update(ScheduledNotification).values(send_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert workers.scheduler_tick(app) == 1
    titles = db.session.scalars(
        select(Notification.title).where(Notification.user_id == world.alice.id)
    )
    assert list(titles) == ["later"]


def test_node_stats_tick_shares_local_stats(app: Flask, world: World) -> None:
    from notifier import node_stats

    assert node_stats.cluster_stats(app)[0]["instance"] == state().instance
    workers.node_stats_tick(app)
    shared = state().broker.cluster_stats()
    assert [s["instance"] for s in shared] == [state().instance]
    assert set(shared[0]) == set(node_stats.local_stats(app))


def test_ticks_survive_their_own_errors(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> int:
        raise RuntimeError("database on fire")

    from notifier.service import schedule

    monkeypatch.setattr(schedule, "release_due", boom)
    with caplog.at_level(logging.ERROR, logger="notifier.workers"):
        assert workers.scheduler_tick(app) is None
    assert "scheduler_tick failed" in caplog.text
    monkeypatch.undo()
    assert workers.scheduler_tick(app) == 0  # the next tick runs as usual


def test_loops_include_the_delivery_worker(app: Flask) -> None:
    names = [fn.__name__ for _, fn in workers.loops(app)]
    assert names == [
        "ping_tick",
        "cleanup_tick",
        "prune_tick",
        "scheduler_tick",
        "snooze_tick",
        "node_stats_tick",
        "delivery_tick",
        "workflow_tick",
    ]


def test_start_and_stop_workers(tmp_path: object) -> None:
    from tests.conftest import make_app

    app = make_app(
        f"sqlite:///{tmp_path}/w.sqlite",
        NOTIFIER_PING_INTERVAL=0.05,
        NOTIFIER_CLEANUP_INTERVAL=0.05,
    )
    with app.app_context():
        hub = state().hub
        sub = hub.subscribe(1, 1)
        group = workers.start_workers(app)
        assert workers.start_workers(app) is group  # idempotent
        assert len(group.greenlets) == 8
        ping = None
        deadline = time.monotonic() + 10
        while ping is None and time.monotonic() < deadline:
            ping = sub.get(timeout=0.5)
        assert ping is not None and ping.event == "ping"
        sub.touch()
        workers.stop_workers(app)
        assert sub.closed and sub.close_reason == "shutdown"
        assert all(g.dead for g in group.greenlets)
        assert state().workers is None
        workers.stop_workers(app)  # idempotent
        gevent.sleep(0)
        db.engine.dispose()
