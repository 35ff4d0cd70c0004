"""A user's first events: the cursor row is created on demand, also by concurrent writers.

A user created outside ``create_user()`` (an import, a seed script) has no ``event_cursors``
row. Two transactions publishing to such a user at once both find no row; on PostgreSQL the
second one used to fail on the primary key (the API answered 500). Now it waits for the
first one and takes the next cursor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, text

from notifier.extensions import db
from notifier.models import Event, EventCursor
from notifier.service import notify
from notifier.service.content import validate_content
from tests.conftest import make_app
from tests.factories import make_user

CONTENT = {"type": "comment", "channels": ["in_app"]}


def without_cursor_row(email: str) -> int:
    """Create a user and drop its cursor row, as a user created outside create_user() is."""
    user = make_user(email)
    db.session.execute(delete(EventCursor).where(EventCursor.user_id == user.id))
    db.session.commit()
    return user.id


def send(tenant_id: int, user_id: int, title: str, **kw: Any) -> notify.NotifyResult:
    """Publish one in-app notification to ``user_id`` through the service."""
    content = validate_content({**CONTENT, "title": title})
    return notify.notify(tenant_id, content, [user_id], sender_id=None, **kw)


def cursors_of(user_id: int) -> list[int]:
    """Return the user's event cursors in order."""
    db.session.remove()
    return list(
        db.session.scalars(select(Event.cursor).where(Event.user_id == user_id).order_by(Event.id))
    )


def test_a_user_without_a_cursor_row_starts_its_log_at_one(any_app: Flask) -> None:
    uid = without_cursor_row("new@example.com")
    tenant_id = make_user("other@example.com").tenant_id
    for title in ("first", "second"):
        assert send(tenant_id, uid, title).ids
    assert cursors_of(uid) == [1, 2]


@pytest.fixture
def pg_app(fresh_postgres_url: str) -> Iterator[Flask]:
    """An app on a fresh PostgreSQL database (each test thread pushes its own context)."""
    app = make_app(fresh_postgres_url)
    yield app
    with app.app_context():
        db.engine.dispose()


def wait_for_a_lock_waiter(app: Flask, deadline: float) -> None:
    """Return once another backend waits on a lock (the second writer reached the row)."""
    with app.app_context(), db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
            if waiting:
                return
            conn.rollback()  # a fresh snapshot of pg_stat_activity on the next read
            time.sleep(0.01)
    raise AssertionError("the second writer never waited for the first one's cursor row")


def test_concurrent_first_notifications_on_postgres_both_commit(pg_app: Flask) -> None:
    with pg_app.app_context():
        uid = without_cursor_row("new@example.com")
        tenant_id = make_user("other@example.com").tenant_id
        db.session.remove()
    first_holds_row = threading.Event()
    outcomes: dict[str, Any] = {}

    def hold_until_second_waits(_result: notify.NotifyResult) -> None:
        # The first writer inserted the cursor row and has not committed yet.
        first_holds_row.set()
        wait_for_a_lock_waiter(pg_app, time.monotonic() + 20)

    def writer(name: str, **kw: Any) -> None:
        with pg_app.app_context():
            try:
                outcomes[name] = send(tenant_id, uid, name, **kw).ids
            except Exception as exc:  # noqa: BLE001 - the assertion below names it
                outcomes[name] = exc
            finally:
                db.session.remove()

    first = threading.Thread(
        target=writer, args=("first",), kwargs={"before_commit": hold_until_second_waits}
    )
    first.start()
    assert first_holds_row.wait(20)
    second = threading.Thread(target=writer, args=("second",))
    second.start()
    first.join(30)
    second.join(30)
    assert all(isinstance(v, list) and len(v) == 1 for v in outcomes.values()), outcomes
    assert set(outcomes) == {"first", "second"}
    with pg_app.app_context():
        assert cursors_of(uid) == [1, 2]


def test_many_concurrent_publishes_to_new_users_on_postgres(pg_app: Flask) -> None:
    with pg_app.app_context():
        uids = [without_cursor_row(f"u{i}@example.com") for i in range(3)]
        tenant_id = make_user("other@example.com").tenant_id
        db.session.remove()
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        with pg_app.app_context():
            start.wait(20)
            try:
                for i in range(4):
                    content = validate_content({**CONTENT, "title": f"w{n}-{i}"})
                    notify.notify(tenant_id, content, uids, sender_id=None)
            except Exception as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with pg_app.app_context():
        for uid in uids:
            assert sorted(cursors_of(uid)) == list(range(1, 25))
