"""How many SQL statements one targeted publish costs (issue 9: store() in batched Core).

Counted with SQLAlchemy's ``before_cursor_execute`` (every statement sent to the database)
and ``commit`` events, on the second POST (the first one also warms caches). The service's
own part is locked exactly; the whole request (auth, limiter and idempotency are other
modules') may only get cheaper.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from notifier.extensions import db
from notifier.service import notify, recipients
from notifier.service.content import validate_content
from tests.factories import World

URL = "/api/v1/notifications"
#: audience (1: users ⟕ preferences, push count, has-webhooks), INSERT notifications
#: RETURNING, the cursor upsert RETURNING, INSERT events RETURNING the inbox counts, COMMIT.
SERVICE_STATEMENTS = 5
#: Before issue 9 the request took 11 statements and a commit; before issue 10's stats in
#: the events insert and the cached user snapshot, 7 and a commit. Now the service's alone.
REQUEST_STATEMENTS = SERVICE_STATEMENTS


class Counter:
    """Statements and commits seen on the app's engine."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.commits = 0

    @property
    def total(self) -> int:
        """Return statements plus commits."""
        return len(self.statements) + self.commits


@contextmanager
def counting() -> Iterator[Counter]:
    """Count what runs on the engine inside the block."""
    counter = Counter()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counter.statements.append(statement)

    def on_commit(_conn: Any) -> None:
        counter.commits += 1

    event.listen(db.engine, "before_cursor_execute", on_execute)
    event.listen(db.engine, "commit", on_commit)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
        event.remove(db.engine, "commit", on_commit)


def post(client: FlaskClient, headers: dict[str, str], uid: int, title: str) -> dict[str, Any]:
    resp = client.post(
        URL, json={"type": "comment", "title": title, "user_id": uid}, headers=headers
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_targeted_publish_is_one_read_three_writes_and_the_commit(
    app: Flask, world: World
) -> None:
    content = validate_content({"type": "comment", "title": "Hi"})
    tenant_id, alice_id = world.alice.tenant_id, world.alice.id
    db.session.remove()
    with counting() as c:
        group = recipients.audience(tenant_id, {"user_id": alice_id})
        result = notify.notify(tenant_id, content, group, sender_id=None)
    assert result.as_dict() == {
        "success": True,
        "channels": {
            "in_app": True,
            "email": False,
            "push": False,
            "sms": False,
            "webhook": False,
            "chat": False,
        },
        "errors": {
            "email": "email channel is not configured",
            "push": "push channel is not configured",
            "sms": "disabled by preferences",
            "webhook": "no webhook endpoint for this type",
            "chat": "no chat integration for this type",
        },
    }
    assert (len(c.statements), c.commits) == (SERVICE_STATEMENTS - 1, 1), c.statements


def test_the_whole_request_costs_no_more_than_the_service(
    app: Flask, client: FlaskClient, world: World
) -> None:
    headers, alice_id = world.admin_h, world.alice.id
    post(client, headers, alice_id, "warm-up")
    db.session.remove()
    with counting() as c:
        answer = post(client, headers, alice_id, "counted")
    assert answer["notification"]["title"] == "counted"
    assert c.total <= REQUEST_STATEMENTS, c.statements
