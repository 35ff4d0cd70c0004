"""Test digests: rows of a closed window go out as one message; an open window waits.

Rows are placed in past windows by moving ``created_at`` back, as the passing hour would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from notifier.delivery import tick
from notifier.delivery.digest_claim import window_start
from notifier.extensions import db
from notifier.models import Delivery, utcnow
from notifier.service import notify as notify_svc
from notifier.service import preferences
from notifier.service.content import validate_content
from tests.factories import make_user
from tests.fixtures_receivers import SmtpServer
from tests.test_delivery import (
    delivered,
    delivery_ids,
    make_due,
    queue,
    reload,
    sqlite_app,
)


@pytest.fixture
def mail_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    yield from sqlite_app(tmp_path, **smtp_server.config())


def last_hour() -> datetime:
    """A time in the previous hourly window."""
    return window_start("hourly", utcnow()) - timedelta(minutes=10)


def next_hour() -> datetime:
    """A time in the next hourly window, still open however long the test takes."""
    return window_start("hourly", utcnow()) + timedelta(hours=1, minutes=10)


@pytest.mark.parametrize(
    ("mode", "now", "zone", "start"),
    [
        ("hourly", datetime(2026, 3, 1, 10, 59, 59), None, datetime(2026, 3, 1, 10, 0)),
        ("hourly", datetime(2026, 3, 1, 11, 0, 0), None, datetime(2026, 3, 1, 11, 0)),
        ("daily", datetime(2026, 3, 1, 9, 30), "UTC", datetime(2026, 3, 1, 8, 0)),
        ("daily", datetime(2026, 3, 1, 7, 59), "UTC", datetime(2026, 2, 28, 8, 0)),
        # 08:00 in New York is 13:00 UTC in winter, 12:00 UTC in summer.
        ("daily", datetime(2026, 1, 15, 12, 0), "America/New_York", datetime(2026, 1, 14, 13, 0)),
        ("daily", datetime(2026, 7, 15, 12, 0), "America/New_York", datetime(2026, 7, 15, 12, 0)),
        ("daily", datetime(2026, 3, 1, 3, 0), "Asia/Kolkata", datetime(2026, 3, 1, 2, 30)),
        ("daily", datetime(2026, 3, 1, 9, 30), "Not/AZone", datetime(2026, 3, 1, 8, 0)),
    ],
)
def test_window_start(mode: str, now: datetime, zone: str | None, start: datetime) -> None:
    assert window_start(mode, now, zone) == start


def test_three_hourly_rows_become_one_email(mail_app: Flask, smtp_server: SmtpServer) -> None:
    alice = make_user("alice@example.com")
    old = [queue(alice, title=f"Comment {i}", digest="hourly") for i in range(3)]
    current = queue(alice, title="Too recent", digest="hourly", created_at=next_hour())
    db.session.execute(update(Delivery).where(Delivery.id.in_(old)).values(created_at=last_hour()))
    db.session.commit()
    before = delivered("sent", "email")

    assert tick(mail_app) == 3

    [mail] = smtp_server.messages
    assert mail.message["Subject"] == "3 new notifications"
    text = mail.message.get_body(("plain",)).get_content()
    assert [line for line in text.splitlines() if line.startswith("- ")] == [
        "- Comment 0",
        "- Comment 1",
        "- Comment 2",
    ]
    assert delivery_ids(smtp_server) == [old[0]]  # The oldest row names the digest.
    assert [reload(i).status for i in old] == ["sent"] * 3
    assert reload(current).status == "pending"  # Its window is still open.
    assert delivered("sent", "email") == before + 3
    assert tick(mail_app) == 0


def test_each_user_gets_their_own_digest(mail_app: Flask, smtp_server: SmtpServer) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    ids = [queue(u, title=f"{u.email} {i}", digest="hourly") for u in (alice, bob) for i in (1, 2)]
    db.session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(created_at=last_hour()))
    db.session.commit()

    assert tick(mail_app) == 4

    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "alice@example.com",
        "bob@example.com",
    ]
    assert {m.message["Subject"] for m in smtp_server.messages} == {"2 new notifications"}


def test_daily_digest_waits_for_eight_in_the_users_time_zone(
    mail_app: Flask, smtp_server: SmtpServer
) -> None:
    alice = make_user("alice@example.com", timezone="Asia/Tokyo")
    boundary = window_start("daily", utcnow(), "Asia/Tokyo")
    yesterday = queue(alice, title="Yesterday", digest="daily")
    today = queue(alice, title="Today", digest="daily", created_at=boundary + timedelta(days=1))
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == yesterday)
        .values(created_at=boundary - timedelta(minutes=1))
    )
    db.session.commit()

    assert tick(mail_app) == 1

    assert delivery_ids(smtp_server) == [yesterday]
    assert smtp_server.messages[0].message["Subject"] == "Yesterday"  # A digest of one.
    assert (reload(yesterday).status, reload(today).status) == ("sent", "pending")


def test_a_failed_digest_is_retried_as_one_message(
    mail_app: Flask, smtp_server: SmtpServer
) -> None:
    alice = make_user("alice@example.com")
    ids = [queue(alice, title=f"n{i}", digest="hourly") for i in range(3)]
    db.session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(created_at=last_hour()))
    db.session.commit()
    smtp_server.fail("451 4.3.0 Later", at="rcpt", times=1)

    assert tick(mail_app) == 3
    rows = [reload(i) for i in ids]
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
    assert len({r.due_at for r in rows}) == 1

    make_due(*ids)
    assert tick(mail_app) == 3
    [mail] = smtp_server.messages
    assert mail.message["Subject"] == "3 new notifications"
    assert {(reload(i).status, reload(i).attempts) for i in ids} == {("sent", 2)}


def test_digest_preference_end_to_end(mail_app: Flask, smtp_server: SmtpServer) -> None:
    alice = make_user("alice@example.com")
    preferences.set_preferences(alice, {"digest": {"comment": "hourly"}}, merge=True)
    for title in ("First", "Second", "Third"):
        content = validate_content({"type": "comment", "title": title, "channels": ["email"]})
        notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None)
    rows = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert [(r.channel, r.digest) for r in rows] == [("email", "hourly")] * 3

    db.session.execute(update(Delivery).values(created_at=last_hour()))
    db.session.commit()
    assert tick(mail_app) == 3

    [mail] = smtp_server.messages
    text = mail.message.get_body(("plain",)).get_content()
    assert "- First" in text and "- Second" in text and "- Third" in text


def test_hourly_and_daily_digests_on_both_databases(
    any_app: Flask, smtp_server: SmtpServer
) -> None:
    any_app.config.update(smtp_server.config())
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com", timezone="America/Los_Angeles")
    hourly = [queue(alice, title=f"a{i}", digest="hourly", created_at=last_hour()) for i in (1, 2)]
    closed = window_start("daily", utcnow(), "America/Los_Angeles") - timedelta(minutes=5)
    daily = [queue(bob, title=f"b{i}", digest="daily", created_at=closed) for i in (1, 2, 3)]
    waiting = queue(bob, title="b-open", digest="daily", created_at=next_hour() + timedelta(days=1))

    assert tick(any_app) == 5

    by_rcpt = {m.rcpt_tos[0]: m.message["Subject"] for m in smtp_server.messages}
    assert by_rcpt == {
        "alice@example.com": "2 new notifications",
        "bob@example.com": "3 new notifications",
    }
    assert {reload(i).status for i in hourly + daily} == {"sent"}
    assert reload(waiting).status == "pending"
