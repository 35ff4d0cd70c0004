"""Test the delivery worker's email path against a real SMTP server: send, retry, dead, retry.

Time never passes in these tests: a row waiting for its retry is made due by moving its
``due_at`` into the past, which is what the clock would do.

The helpers here (``sqlite_app``, ``queue``, ``reload``, ``make_due``, ``delivery_ids``) are
shared by the other ``test_delivery_*`` modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from notifier.channels import Channel, DeliveryJob
from notifier.delivery import channels_for, tick
from notifier.extensions import db
from notifier.metrics import REGISTRY
from notifier.models import Delivery, User, utcnow
from notifier.service import deliveries
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content
from tests.conftest import make_app
from tests.factories import make_user
from tests.fixtures_receivers import SmtpServer


def delivered(outcome: str, channel: str) -> float:
    """Return this process's notifier_deliveries_total for ``outcome`` and ``channel``."""
    value = REGISTRY.get_sample_value(
        "notifier_deliveries_total", {"channel": channel, "outcome": outcome}
    )
    return value or 0.0


def sqlite_app(tmp_path: Any, **config: Any) -> Iterator[Flask]:
    """Yield an app on a fresh SQLite file with ``config`` and its context pushed.

    The body of the other delivery test modules' app fixtures: ``yield from sqlite_app(...)``.
    """
    app = make_app(f"sqlite:///{tmp_path / 'delivery.sqlite'}", **config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def mail_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    """An app whose email channel points at the real SMTP server."""
    yield from sqlite_app(tmp_path, **smtp_server.config())


@pytest.fixture
def bare_app(tmp_path: Any) -> Iterator[Flask]:
    """An app with no external channel configured but webhooks."""
    yield from sqlite_app(tmp_path)


@pytest.fixture
def alice(mail_app: Flask) -> User:
    return make_user("alice@example.com")


def queue(user: User | None, channel: str = "email", title: str = "Hello", **fields: Any) -> int:
    """Insert one pending Delivery row, due now; return its id."""
    payload = {
        "type": "comment",
        "title": title,
        "body": fields.pop("body", f"Body of {title}"),
        "priority": "normal",
        "entity_type": None,
        "entity_id": None,
        "url": fields.pop("url", None),
        "tags": [],
    }
    row = Delivery(
        tenant_id=fields.pop("tenant_id", None) or (user.tenant_id if user else None),
        user_id=user.id if user else None,
        channel=channel,
        payload=fields.pop("payload", payload),
        due_at=fields.pop("due_at", utcnow()),
        **fields,
    )
    db.session.add(row)
    db.session.commit()
    return row.id


def reload(delivery_id: int) -> Delivery:
    """Return the row as the database has it now (tick writes through its own session)."""
    row = db.session.get(Delivery, delivery_id, populate_existing=True)
    assert row is not None
    return row


def make_due(*ids: int) -> None:
    """Move rows' due_at into the past: what waiting for the retry would do."""
    db.session.execute(
        update(Delivery).where(Delivery.id.in_(ids)).values(due_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def delivery_ids(smtp_server: SmtpServer) -> list[int]:
    """Return the delivery id in each received Message-ID, in arrival order."""
    out = []
    for mail in smtp_server.messages:
        msgid = mail.message["Message-ID"]
        out.append(int(msgid.split("delivery-", 1)[1].split("@", 1)[0]))
    return out


def between(value: datetime, low: datetime, high: datetime) -> bool:
    return low <= value <= high


# --- sending ---------------------------------------------------------------------------------


def test_email_is_sent_and_marked_sent(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    before = delivered("sent", "email")
    did = queue(alice, title="Build finished", url="https://ci.example/b/1")

    assert tick(mail_app) == 1

    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["alice@example.com"]
    assert mail.message["Subject"] == "Build finished"
    assert "https://ci.example/b/1" in mail.message.get_body(("plain",)).get_content()
    assert delivery_ids(smtp_server) == [did]
    row = reload(did)
    assert (row.status, row.attempts, row.locked_until, row.last_error) == ("sent", 1, None, None)
    assert row.sent_at is not None
    assert delivered("sent", "email") == before + 1
    assert tick(mail_app) == 0  # Nothing left: a sent row is never sent again.
    assert len(smtp_server.messages) == 1


def test_deferred_email_is_retried_with_backoff(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    smtp_server.fail("451 4.3.0 Try again later", at="rcpt", times=1)
    failed_before = delivered("failed", "email")
    did = queue(alice)

    start = utcnow()
    assert tick(mail_app) == 1
    end = utcnow()

    row = reload(did)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "451" in (row.last_error or "")
    base = mail_app.config["NOTIFIER_RETRY_BASE"]  # 10 s: the first delay, ±20 %.
    low, high = start + timedelta(seconds=base * 0.8), end + timedelta(seconds=base * 1.2)
    assert between(row.due_at, low, high)
    assert row.locked_until is None
    assert delivered("failed", "email") == failed_before + 1
    assert tick(mail_app) == 0 and smtp_server.messages == []  # Not due yet.

    make_due(did)
    assert tick(mail_app) == 1
    row = reload(did)
    assert (row.status, row.attempts) == ("sent", 2)
    assert delivery_ids(smtp_server) == [did]


def test_refused_email_goes_dead_and_admin_retry_sends_it(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    smtp_server.fail("550 5.1.1 No such user", at="rcpt", times=1)
    did = queue(alice, title="Invoice ready")

    assert tick(mail_app) == 1

    row = reload(did)
    assert (row.status, row.attempts) == ("dead", 1)
    assert "550" in (row.last_error or "")
    [dead] = deliveries.dead_letters(alice.tenant_id)
    assert (dead["id"], dead["channel"], dead["title"]) == (did, "email", "Invoice ready")
    assert "550" in dead["last_error"]
    assert tick(mail_app) == 0  # Dead rows stay dead until an admin retries them.

    deliveries.retry(alice.tenant_id, did)
    assert tick(mail_app) == 1
    row = reload(did)
    assert row.status == "sent"
    assert delivery_ids(smtp_server) == [did]
    assert deliveries.dead_letters(alice.tenant_id) == []


def test_gives_up_after_max_attempts(mail_app: Flask, alice: User, smtp_server: SmtpServer) -> None:
    mail_app.config["NOTIFIER_RETRY_MAX_ATTEMPTS"] = 3
    smtp_server.fail("451 4.7.1 Greylisted", at="rcpt")  # Every time.
    did = queue(alice)

    for attempt in (1, 2):
        assert tick(mail_app) == 1
        row = reload(did)
        assert (row.status, row.attempts) == ("pending", attempt)
        make_due(did)
    assert tick(mail_app) == 1

    row = reload(did)
    assert (row.status, row.attempts) == ("dead", 3)
    assert (row.last_error or "").startswith("gave up after 3 attempts: ")
    assert "451" in (row.last_error or "")
    assert smtp_server.messages == []
    assert [d["id"] for d in deliveries.dead_letters(alice.tenant_id)] == [did]


def test_unconfigured_channel_goes_dead_with_a_clear_error(bare_app: Flask) -> None:
    alice = make_user("alice@example.com")
    did = queue(alice)

    assert tick(bare_app) == 1

    row = reload(did)
    assert row.status == "dead"
    assert row.last_error == "the email channel is not configured on this server"


def test_deactivated_recipient_goes_dead(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    did = queue(alice)
    alice.active = False
    db.session.commit()

    assert tick(mail_app) == 1

    assert reload(did).status == "dead"
    assert "deactivated" in (reload(did).last_error or "")
    assert smtp_server.messages == []


class _Broken(Channel):
    """A channel with a bug: raises something that is not a channel error."""

    name = "email"

    def send(self, job: DeliveryJob) -> None:
        raise KeyError("oops")


def test_unexpected_exception_goes_dead_at_once_with_the_reason(
    mail_app: Flask, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    # Not a channel's TransientError: it comes back the same every time, so it is not retried.
    channels_for(mail_app)["email"] = _Broken()
    did = queue(alice)

    assert tick(mail_app) == 1

    row = reload(did)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "unexpected KeyError: 'oops'"
    assert "unexpected error" in caplog.text
    assert [d["id"] for d in deliveries.dead_letters(alice.tenant_id)] == [did]


def test_notify_to_received_email_end_to_end(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    content = validate_content(
        {
            "type": "mention",
            "title": "Ann mentioned you",
            "body": "in Q3 planning",
            "url": "https://notifier.example/n/1",
            "channels": ["in_app", "email"],
        }
    )
    result = notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None)
    assert result.channels == {"in_app": True, "email": True}

    assert tick(mail_app) == 1

    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["alice@example.com"]
    assert mail.message["Subject"] == "Ann mentioned you"
    assert "in Q3 planning" in mail.message.get_body(("plain",)).get_content()
    [row] = db.session.query(Delivery).populate_existing().all()
    assert (row.channel, row.status, row.user_id) == ("email", "sent", alice.id)


def test_same_site_urls_become_absolute_under_the_base_url(
    mail_app: Flask, alice: User, smtp_server: SmtpServer
) -> None:
    mail_app.config["NOTIFIER_BASE_URL"] = "https://notify.example.com/"
    content = validate_content(
        {"type": "mention", "title": "See build", "url": "/builds/7", "channels": ["email"]}
    )
    notify_svc.notify(alice.tenant_id, content, [alice.id], sender_id=None)
    assert tick(mail_app) == 1
    [mail] = smtp_server.messages
    assert "https://notify.example.com/builds/7" in mail.message.get_body(("plain",)).get_content()
