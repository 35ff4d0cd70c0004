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
from sqlalchemy import select, text, update

from notifier import workers
from notifier.channels import DeliveryJob, EmailChannel
from notifier.delivery import channels_for, tick
from notifier.extensions import db
from notifier.models import Notification, ScheduledNotification, utcnow
from notifier.service import schedule as schedule_svc
from notifier.service.content import validate_content
from tests.conftest import AuthActions
from tests.factories import make_world
from tests.fixtures_receivers import SmtpServer
from tests.test_delivery import delivery_ids, queue, reload
from tests.test_delivery_digest import last_hour


def poison(text: str) -> str:
    """Return ``text`` with the character this database cannot store in a text column."""
    return text + (" \x00" if db.engine.dialect.name == "postgresql" else " \ud800")


def schedule(tenant_id: int, user_id: int, title: str) -> int:
    """Schedule an in-app notification through the service, due in an hour; return its id."""
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    content = validate_content(
        {"type": "comment", "title": title, "send_at": when, "channels": ["in_app"]}
    )
    result = schedule_svc.schedule(tenant_id, content, [user_id], sender_id=None)
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
    unreadable = []
    if db.engine.dialect.name == "sqlite":  # PostgreSQL's json type refuses such text.
        unreadable.append(store_copy(template))
        db.session.execute(
            text("UPDATE scheduled_notifications SET spec = '{not json' WHERE id = :id"),
            {"id": unreadable[0]},
        )
        make_due(unreadable[0], good)

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
    for sid in unreadable:
        row = db.session.get(ScheduledNotification, sid)
        assert row is not None and row.status == "failed" and "not JSON" in (row.error or "")
    assert workers.scheduler_tick(any_app) == 0  # Set aside for good: not tried again.

    html = admin_page(any_app, "admin@example.com")
    assert f'id="failed-scheduled-{bad}"' in html
    assert f'id="failed-scheduled-{mangled}"' in html
    assert all(f'id="failed-scheduled-{sid}"' in html for sid in unreadable)
    assert "poison \\" in html  # The bad character, escaped so that the page still renders.
    assert f'id="failed-scheduled-{good}"' not in html
    other = admin_page(any_app, "carol@globex.com")  # Other tenants never see them.
    assert f'id="failed-scheduled-{bad}"' not in other
    assert f'id="failed-scheduled-{mangled}"' not in other


# --- the delivery queue -----------------------------------------------------------------------


def store_unreadable(delivery_id: int) -> None:
    """Overwrite a row's payload with text that is not JSON, as a hand edit on SQLite could."""
    db.session.execute(
        text("UPDATE deliveries SET payload = '{not json' WHERE id = :id"), {"id": delivery_id}
    )
    db.session.commit()


def test_a_delivery_that_cannot_be_processed_is_set_aside_and_the_queue_goes_on(
    any_app: Flask, smtp_server: SmtpServer
) -> None:
    any_app.config.update(smtp_server.config())
    world = make_world()
    early = utcnow() - timedelta(minutes=5)  # First in the queue.
    bad = [
        queue(world.alice, payload="not an object", due_at=early),
        queue(world.alice, title=poison("poison"), due_at=early),
    ]
    if db.engine.dialect.name == "sqlite":  # PostgreSQL's json type refuses such text.
        bad.append(queue(world.alice, due_at=early))
        store_unreadable(bad[-1])
    good = queue(world.carol, title="on time")  # Another tenant's, due after them.

    assert tick(any_app) == len(bad) + 1

    assert delivery_ids(smtp_server) == [good]
    assert reload(good).status == "sent"
    for did in bad:
        row = reload(did)
        assert (row.status, row.attempts) == ("dead", 1)
        assert row.last_error
    assert "not a JSON object" in (reload(bad[0]).last_error or "")
    assert "lone surrogate or NUL" in (reload(bad[1]).last_error or "")
    assert tick(any_app) == 0  # Set aside: not claimed again.

    html = admin_page(any_app, "admin@example.com")  # In the dead letters, retry button and all.
    for did in bad:
        assert f'id="dead-{did}"' in html
    assert "poison \\" in html
    assert f'id="dead-{good}"' not in html


def test_a_bad_row_in_a_digest_is_set_aside_and_the_rest_go_out(
    any_app: Flask, smtp_server: SmtpServer
) -> None:
    any_app.config.update(smtp_server.config())
    world = make_world()
    digest = [
        queue(world.alice, title=title, digest="hourly", created_at=last_hour())
        for title in ("first", poison("poison"), "second")
    ]
    not_object = queue(world.alice, payload=7, digest="hourly", created_at=last_hour())
    after = queue(world.carol, title="right after")  # Immediate, another tenant's.

    assert tick(any_app) == 5

    mails = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    assert set(mails) == {"alice@example.com", "carol@globex.com"}
    assert mails["alice@example.com"]["Subject"] == "2 new notifications"
    body = mails["alice@example.com"].get_body(("plain",)).get_content()
    assert [line for line in body.splitlines() if line.startswith("- ")] == ["- first", "- second"]
    assert mails["carol@globex.com"]["Subject"] == "right after"
    statuses = [reload(i).status for i in [*digest, not_object, after]]
    assert statuses == ["sent", "dead", "sent", "dead", "sent"]

    html = admin_page(any_app, "admin@example.com")
    assert f'id="dead-{digest[1]}"' in html and f'id="dead-{not_object}"' in html


class _Picky(EmailChannel):
    """The real email channel, with a bug that only one notification's content sets off."""

    def send(self, job: DeliveryJob) -> None:
        if any(item.get("title") == "boom" for item in job.items):
            raise RuntimeError("boom")
        super().send(job)


def sent_titles(smtp_server: SmtpServer) -> list[str]:
    """Return every notification title received, from digests and single messages."""
    titles = []
    for mail in smtp_server.messages:
        body = mail.message.get_body(("plain",)).get_content()
        items = [line[2:] for line in body.splitlines() if line.startswith("- ")]
        titles += items or [mail.message["Subject"]]
    return titles


def test_an_unexpected_error_in_a_digest_sets_aside_only_the_row_at_fault(
    app: Flask, smtp_server: SmtpServer
) -> None:
    app.config.update(smtp_server.config())
    channels_for(app)["email"] = _Picky(app.config)
    world = make_world()
    titles = ["a", "b", "boom", "c", "d"]
    ids = [queue(world.alice, title=t, digest="hourly", created_at=last_hour()) for t in titles]

    assert tick(app) == 5

    assert sorted(sent_titles(smtp_server)) == ["a", "b", "c", "d"]  # Each once.
    assert [reload(i).status for i in ids] == ["sent", "sent", "dead", "sent", "sent"]
    assert reload(ids[2]).last_error == "unexpected RuntimeError: boom"
