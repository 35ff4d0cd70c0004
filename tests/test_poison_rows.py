"""One bad row never stalls shared work (CONTRACT §8): scheduler, delivery queue, digests.

Each test stores a row that cannot be processed ahead of a good one, straight into the
database (publishing validates input and would refuse it), runs one tick, and checks that the
good row arrived, the bad one is set aside with its reason, and the admin dashboard shows it.
On SQLite the poison is a lone surrogate; PostgreSQL refuses those even in JSON, so there it
is a NUL, which its JSON type stores but its text columns refuse.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from notifier import workers
from notifier.extensions import db
from notifier.models import Notification, ScheduledNotification, utcnow
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content
from tests.conftest import AuthActions
from tests.factories import make_world


def poison(text: str) -> str:
    """Return ``text`` with the character this database cannot store in a text column."""
    return text + (" \x00" if db.engine.dialect.name == "postgresql" else " \ud800")


def schedule(tenant_id: int, user_id: int, title: str) -> int:
    """Schedule an in-app notification through the service, due in an hour; return its id."""
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    content = validate_content(
        {"type": "comment", "title": title, "send_at": when, "channels": ["in_app"]}
    )
    result = notify_svc.schedule(tenant_id, content, [user_id], sender_id=None)
    assert result.scheduled_id is not None
    return result.scheduled_id


def store_copy(scheduled_id: int, **changes: Any) -> int:
    """Insert a copy of a scheduled row with spec fields changed, bypassing validation."""
    row = db.session.get(ScheduledNotification, scheduled_id)
    assert row is not None
    copy = ScheduledNotification(
        tenant_id=row.tenant_id, spec={**row.spec, **changes}, send_at=row.send_at
    )
    db.session.add(copy)
    db.session.commit()
    return copy.id


def make_due(*ids: int) -> None:
    """Move send_at into the past, oldest first in the order given."""
    for i, sid in enumerate(ids):
        db.session.execute(
            update(ScheduledNotification)
            .where(ScheduledNotification.id == sid)
            .values(send_at=utcnow() - timedelta(seconds=60 - i))
        )
    db.session.commit()


def admin_page(app: Flask, email: str) -> str:
    """Return /admin as ``email`` sees it (a fresh app context: Flask-Login caches in g)."""
    with app.app_context():
        client = app.test_client()
        assert AuthActions(client).login(email).status_code == 302
        resp = client.get("/admin")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_a_scheduled_row_that_fails_is_set_aside_and_the_rest_go_out(any_app: Flask) -> None:
    world = make_world()
    template = schedule(world.acme.id, world.alice.id, "template")
    bad = store_copy(template, title=poison("poison"))
    mangled = store_copy(template, recipients="nobody")  # Not a list: fails another way.
    good = schedule(world.globex.id, world.carol.id, "on time")  # Another tenant's.
    db.session.execute(
        update(ScheduledNotification)
        .where(ScheduledNotification.id == template)
        .values(status="sent")  # Only the rows under test are due.
    )
    make_due(bad, mangled, good)

    assert workers.scheduler_tick(any_app) == 1

    inbox = db.session.scalars(
        select(Notification.title).where(Notification.user_id == world.carol.id)
    ).all()
    assert inbox == ["on time"]
    db.session.expire_all()
    rows = {
        r.id: r
        for r in db.session.scalars(
            select(ScheduledNotification).where(ScheduledNotification.id.in_([bad, mangled, good]))
        )
    }
    assert [rows[i].status for i in (bad, mangled, good)] == ["failed", "failed", "sent"]
    assert rows[bad].error and rows[bad].failed_at is not None
    assert rows[mangled].error and rows[mangled].failed_at is not None
    assert rows[good].error is None
    assert not db.session.scalars(
        select(Notification.id).where(Notification.user_id == world.alice.id)
    ).all()
    assert workers.scheduler_tick(any_app) == 0  # Set aside for good: not tried again.

    html = admin_page(any_app, "admin@example.com")
    assert f'id="failed-scheduled-{bad}"' in html
    assert f'id="failed-scheduled-{mangled}"' in html
    assert "poison \\" in html  # The bad character, escaped so that the page still renders.
    assert f'id="failed-scheduled-{good}"' not in html
    other = admin_page(any_app, "carol@globex.com")  # Other tenants never see them.
    assert f'id="failed-scheduled-{bad}"' not in other
    assert f'id="failed-scheduled-{mangled}"' not in other
