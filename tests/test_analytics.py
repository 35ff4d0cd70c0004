"""GET /api/v1/analytics: the exact numbers of a constructed run, by type, channel, variant, day.

The run goes through the real paths: publishes over the API, email through a real SMTP server
(one recipient refused: dead), reads, seen marks and an action click over the API. Variants
are set on the rows directly (the template variant code is helper A's; it stores the same
column). SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from notifier.delivery import tick
from notifier.extensions import db
from notifier.models import Delivery, Notification, utcnow
from tests.conftest import make_app
from tests.factories import World, make_user, make_world
from tests.fixtures_receivers import SmtpServer

OPEN = {"id": "open", "label": "Open", "url": "/deploys/2"}


@dataclass
class Run:
    """The world and the ids of the constructed run."""

    w: World
    dave: Any
    erin: Any
    deploy: dict[str, int]  # user email → notification id
    today: str


def _publish(client: FlaskClient, w: World, as_: str = "", **body: Any) -> Any:
    headers = w.carol_h if as_ == "carol" else w.admin_h
    resp = client.post("/api/v1/notifications", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _drain(app: Flask) -> None:
    """Tick the delivery worker until nothing is due (bounded)."""
    for _ in range(20):
        if tick(app) == 0:
            return
    raise AssertionError("deliveries still due after 20 ticks")


def build_run(app: Flask, smtp_server: SmtpServer) -> Run:
    """Publish, deliver, fail one, read, see and click: the run every test counts."""
    w = make_world()
    dave, erin = make_user("dave@example.com"), make_user("erin@example.com")
    client = app.test_client()
    both = ["in_app", "email"]
    # erin's email is refused for good (550 at RCPT): one dead delivery.
    first = _publish(client, w, user_id=erin.id, type="deploy", title="v2", channels=both)
    smtp_server.fail("550 5.1.1 No such user", at="rcpt", times=1)
    _drain(app)
    ids = [w.alice.id, w.bob.id, dave.id]
    more = _publish(
        client, w, user_ids=ids, type="deploy", title="v2", channels=both, actions=[OPEN]
    )
    _drain(app)
    deploy = dict(zip(["alice", "bob", "dave"], more["ids"], strict=True))
    deploy["erin"] = first["notification"]["id"]
    _publish(
        client, w, user_ids=[w.alice.id, w.bob.id], type="comment", title="hi", channels=["in_app"]
    )
    _publish(
        client, w, "carol", user_id=w.carol.id, type="deploy", title="globex", channels=["in_app"]
    )
    # Variants as the template code stores them: alice and bob got A, dave and erin B.
    for name, who in (("A", ("alice", "bob")), ("B", ("dave", "erin"))):
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_([deploy[u] for u in who]))
            .values(variant=name)
        )
    db.session.commit()
    # alice reads, bob clicks (which reads), dave only sees; of the comments alice reads.
    comment = db.session.scalar(
        select(Notification.id).where(
            Notification.user_id == w.alice.id, Notification.type == "comment"
        )
    )
    for path, headers in (
        (f"{deploy['alice']}/read", w.alice_h),
        (f"{deploy['bob']}/actions/open", w.bob_h),
        (f"{deploy['dave']}/seen", _token(dave)),
        (f"{comment}/read", w.alice_h),
    ):
        resp = client.post(f"/api/v1/notifications/{path}", headers=headers)
        assert resp.status_code == 200, resp.get_json()
    statuses = sorted(
        db.session.scalars(select(Delivery.status).where(Delivery.channel == "email"))
    )
    assert statuses == ["dead", "sent", "sent", "sent"]
    return Run(w, dave, erin, deploy, utcnow().date().isoformat())


def _token(user: Any) -> dict[str, str]:
    from notifier.service import accounts

    return {"Authorization": f"Bearer {accounts.create_token(user)}"}


def rows(app: Flask, run: Run, headers: dict[str, str] | None = None, **args: str) -> Any:
    resp = app.test_client().get(
        "/api/v1/analytics", query_string=args, headers=headers or run.w.admin_h
    )
    assert resp.status_code == 200, resp.get_json()
    return {r["key"]: r for r in resp.get_json()["rows"]}


def counts(row: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("sent", "delivered", "failed", "seen", "read", "clicked", "read_rate", "click_rate")
    return tuple(row[k] for k in keys)


@pytest.fixture
def mail_app(tmp_path: Any, smtp_server: SmtpServer) -> Iterator[Flask]:
    app = make_app(f"sqlite:///{tmp_path / 'a.sqlite'}", **smtp_server.config())
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def run(mail_app: Flask, smtp_server: SmtpServer) -> Run:
    return build_run(mail_app, smtp_server)


def test_by_type_counts_every_message_of_the_run(mail_app: Flask, run: Run) -> None:
    by_type = rows(mail_app, run)  # by=type is the default
    # deploy: 4 inbox rows + 4 emails (1 dead); seen: alice, bob, dave × 2 messages each;
    # read: alice, bob × 2; clicked: bob × 2.
    assert counts(by_type["deploy"]) == (8, 7, 1, 6, 4, 2, round(4 / 7, 4), round(2 / 7, 4))
    assert counts(by_type["comment"]) == (2, 2, 0, 1, 1, 0, 0.5, 0.0)
    assert list(by_type) == ["comment", "deploy"]


def test_by_channel_partitions_the_same_messages(mail_app: Flask, run: Run) -> None:
    by_channel = rows(mail_app, run, by="channel")
    assert counts(by_channel["email"]) == (4, 3, 1, 3, 2, 1, round(2 / 3, 4), round(1 / 3, 4))
    assert counts(by_channel["in_app"]) == (6, 6, 0, 4, 3, 1, 0.5, round(1 / 6, 4))
    only_email = rows(mail_app, run, by="type", channel="email")
    assert counts(only_email["deploy"]) == counts(by_channel["email"])


def test_by_variant_and_by_day(mail_app: Flask, run: Run) -> None:
    by_variant = rows(mail_app, run, by="variant")
    assert counts(by_variant["A"]) == (4, 4, 0, 4, 4, 2, 1.0, 0.5)
    assert counts(by_variant["B"]) == (4, 3, 1, 2, 0, 0, 0.0, 0.0)
    assert counts(by_variant[None]) == (2, 2, 0, 1, 1, 0, 0.5, 0.0)  # the comments
    assert list(by_variant) == ["A", "B", None]
    assert rows(mail_app, run, by="day") == {
        run.today: {"key": run.today, "sent": 10, "delivered": 9, "failed": 1, "seen": 7,
                    "read": 5, "clicked": 2, "read_rate": 0.5556, "click_rate": 0.2222}
    }  # fmt: skip


def test_the_window_and_the_type_filter(mail_app: Flask, run: Run) -> None:
    old = utcnow() - timedelta(days=40)
    db.session.execute(
        update(Notification).where(Notification.id == run.deploy["erin"]).values(created_at=old)
    )
    db.session.execute(
        update(Delivery)
        .where(Delivery.notification_id == run.deploy["erin"])
        .values(created_at=old)
    )
    db.session.commit()
    # The default window is the last 30 days: erin's messages (one dead email) are out.
    assert counts(rows(mail_app, run)["deploy"])[:3] == (6, 6, 0)
    since = (old - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert counts(rows(mail_app, run, since=since)["deploy"])[:3] == (8, 7, 1)
    until = (old + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert counts(rows(mail_app, run, since=since, until=until)["deploy"])[:3] == (2, 1, 1)
    assert list(rows(mail_app, run, type="comment")) == ["comment"]
    assert rows(mail_app, run, type="nothing") == {}


def test_a_tenant_sees_only_its_own_and_members_none(mail_app: Flask, run: Run) -> None:
    globex = rows(mail_app, run, headers=run.w.carol_h)
    assert list(globex) == ["deploy"]
    assert counts(globex["deploy"]) == (1, 1, 0, 0, 0, 0, 0.0, 0.0)
    resp = mail_app.test_client().get("/api/v1/analytics", headers=run.w.alice_h)
    assert resp.status_code == 403
    assert mail_app.test_client().get("/api/v1/analytics").status_code == 401


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"by": "week"}, "by"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"channel": "fax"}, "channel"),
        ({"type": "no spaces"}, "type"),
    ],
)
def test_bad_arguments_are_422_naming_the_field(
    app: Flask, world: World, args: dict[str, str], field: str
) -> None:
    resp = app.test_client().get("/api/v1/analytics", query_string=args, headers=world.admin_h)
    assert resp.status_code == 422
    body = resp.get_json()["error"]
    assert body["code"] == "validation_error"
    assert list(body["fields"]) == [field]


def test_a_since_in_the_future_without_until_is_an_empty_window(app: Flask, world: World) -> None:
    resp = app.test_client().get(
        "/api/v1/analytics", query_string={"since": "2999-01-01T00:00:00Z"}, headers=world.admin_h
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["rows"] == []


def test_postgres_gives_the_same_numbers(postgres_url: str, smtp_server: SmtpServer) -> None:
    app = make_app(postgres_url, **smtp_server.config())
    with app.app_context():
        try:
            run = build_run(app, smtp_server)
            assert counts(rows(app, run)["deploy"]) == (
                8, 7, 1, 6, 4, 2, round(4 / 7, 4), round(2 / 7, 4)
            )  # fmt: skip
            assert counts(rows(app, run, by="channel")["email"])[:3] == (4, 3, 1)
            assert counts(rows(app, run, by="variant")["B"]) == (4, 3, 1, 2, 0, 0, 0.0, 0.0)
            assert list(rows(app, run, by="day")) == [run.today]
        finally:
            db.session.remove()
            db.engine.dispose()
