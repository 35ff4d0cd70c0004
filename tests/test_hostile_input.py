"""Hostile input gets a 4xx, never a 5xx, on SQLite and on PostgreSQL (CONTRACT §8, issue 7).

Each row of the tables below is one finding of the attack on the API or the pages: what was
sent, and the status and error code the contract requires. Every test runs on both
databases (``any_app``): ids out of range, NUL and lone surrogates fail differently on each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from notifier.extensions import db
from notifier.models import Delivery, Notification, ScheduledNotification
from tests import factories
from tests.factories import PASSWORD, World, bearer

API = "/api/v1"
PUBLISH = f"{API}/notifications"
# Placeholders in paths and bodies: the first id past the column's range on this database.
BIG = "<bigint+1>"  # BigInteger ids (notifications, deliveries): 2**63 everywhere
INT = "<int+1>"  # Integer ids (users, tokens, webhooks, push): 2**31 on PostgreSQL


def nested(depth: int) -> Any:
    """Return a JSON array nested ``depth`` levels deep."""
    doc: Any = []
    for _ in range(depth - 1):
        doc = [doc]
    return doc


def publish(to: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A publish body (to alice's address unless ``to`` says otherwise) with ``fields`` set."""
    recipient = {"email": "alice@example.com"} if to is None else to
    return {**recipient, "type": "comment", "title": "Hi", **fields}


@dataclass
class Row:
    """One hostile request and the answer the contract requires."""

    method: str
    path: str
    status: int
    code: str
    field: str | None = None
    who: str = "admin"
    json: Any = None
    raw: str | None = None
    headers: dict[str, str] | None = None


ROWS: dict[str, Row] = {
    # Ids beyond the database's integer range name nothing: 404 on paths, 422 in bodies.
    "path-notification": Row("GET", f"{PUBLISH}/{BIG}", 404, "not_found", who="alice"),
    "path-read": Row("POST", f"{PUBLISH}/{BIG}/read", 404, "not_found", who="alice"),
    "path-read-put": Row("PUT", f"{PUBLISH}/{BIG}/read", 404, "not_found", who="alice"),
    "path-unread": Row("POST", f"{PUBLISH}/{BIG}/unread", 404, "not_found", who="alice"),
    "path-delete": Row("DELETE", f"{PUBLISH}/{BIG}", 404, "not_found", who="alice"),
    "path-token": Row("DELETE", f"{API}/tokens/{INT}", 404, "not_found", who="alice"),
    "path-webhook": Row("DELETE", f"{API}/webhooks/{INT}", 404, "not_found"),
    "path-push": Row("DELETE", f"{API}/push/subscriptions/{INT}", 404, "not_found", who="alice"),
    "body-user_id": Row(
        "POST", PUBLISH, 422, "validation_error", "user_id", json=publish(to={"user_id": INT})
    ),
    "body-user_ids": Row(
        "POST", PUBLISH, 422, "validation_error", "user_ids", json=publish(to={"user_ids": [INT]})
    ),
    "body-bulk-ids": Row(
        "POST",
        f"{PUBLISH}/bulk",
        422,
        "validation_error",
        "ids",
        who="alice",
        json={"action": "read", "ids": [BIG]},
    ),
    "cursor-users-range": Row("GET", f"{API}/users?before={INT}", 400, "bad_cursor", "before"),
    # JSON nested past 64 levels: 400, also when deep enough to exhaust the parser.
    "json-20000-deep": Row(
        "POST", PUBLISH, 400, "invalid_json", raw='{"body": ' + "[" * 20000 + "]" * 20000 + "}"
    ),
    "json-65-deep": Row(
        "PATCH", f"{API}/preferences", 400, "invalid_json", who="alice", json={"x": nested(64)}
    ),
    # Times outside the years 1970–9999 (also once converted to UTC).
    "send_at-past-9999": Row(
        "POST",
        PUBLISH,
        422,
        "validation_error",
        "send_at",
        json=publish(send_at="9999-12-31T23:00:00-14:00"),
    ),
    "send_at-before-1": Row(
        "POST",
        PUBLISH,
        422,
        "validation_error",
        "send_at",
        json=publish(send_at="0001-01-01T00:00:00+14:00"),
    ),
    "send_at-year-1": Row(
        "POST",
        PUBLISH,
        422,
        "validation_error",
        "send_at",
        json=publish(send_at="0001-01-01T00:00:00-12:00"),
    ),
    # Lone surrogates and NUL in any string.
    "title-surrogate": Row(
        "POST", PUBLISH, 422, "validation_error", "title", json=publish(title="poison \ud800")
    ),
    "title-nul": Row(
        "POST", PUBLISH, 422, "validation_error", "title", json=publish(title="poison \x00")
    ),
    "body-nul": Row("POST", PUBLISH, 422, "validation_error", "body", json=publish(body="a\x00b")),
    "entity_id-nul": Row(
        "POST", PUBLISH, 422, "validation_error", "entity_id", json=publish(entity_id="e\x00")
    ),
    "url-nul": Row("POST", PUBLISH, 422, "validation_error", "url", json=publish(url="/a\x00b")),
    "email-nul": Row(
        "POST",
        PUBLISH,
        422,
        "validation_error",
        "email",
        json=publish(email="alice@example.com\x00"),
    ),
    "token-name-surrogate": Row(
        "POST",
        f"{API}/tokens",
        422,
        "validation_error",
        "name",
        who="alice",
        json={"name": "\udc00"},
    ),
    "token-name-nul": Row(
        "POST",
        f"{API}/tokens",
        422,
        "validation_error",
        "name",
        who="alice",
        json={"name": "a\x00"},
    ),
    "password-surrogate": Row(
        "POST",
        f"{API}/users",
        422,
        "validation_error",
        "password",
        json={"email": "new@example.com", "password": "password\ud800"},
    ),
    "query-tag-nul": Row("GET", f"{PUBLISH}?tag=a%00", 422, "validation_error", "tag", who="alice"),
    "query-type-nul": Row(
        "GET", f"{PUBLISH}?type=a%00", 422, "validation_error", "type", who="alice"
    ),
    "idempotency-key-nul": Row(
        "POST",
        PUBLISH,
        422,
        "validation_error",
        "Idempotency-Key",
        json=publish(),
        headers={"Idempotency-Key": "key\x00"},
    ),
    # Cursors: str.isdigit accepts superscripts and circled digits, int() refuses them.
    "cursor-superscript": Row("GET", f"{PUBLISH}?before=³", 400, "bad_cursor", "before", "alice"),
    "cursor-circled": Row("GET", f"{PUBLISH}?before=①", 400, "bad_cursor", "before", "alice"),
    "cursor-users-superscript": Row("GET", f"{API}/users?before=³", 400, "bad_cursor", "before"),
    # Unhashable list items.
    "tags-list": Row("POST", PUBLISH, 422, "validation_error", "tags", json=publish(tags=[["a"]])),
    "tags-object": Row(
        "POST", PUBLISH, 422, "validation_error", "tags", json=publish(tags=[{"a": 1}])
    ),
    "channels-list": Row(
        "POST", PUBLISH, 422, "validation_error", "channels", json=publish(channels=[["in_app"]])
    ),
    "channels-object": Row(
        "POST", PUBLISH, 422, "validation_error", "channels", json=publish(channels=[{"a": 1}])
    ),
    # Control characters in a link: header injection, or a path browsers read as //host.
    "url-newline": Row(
        "POST",
        PUBLISH,
        422,
        "validation_error",
        "url",
        json=publish(url="https://example.com/a\nSet-Cookie: x=y"),
    ),
    "url-cr": Row("POST", PUBLISH, 422, "validation_error", "url", json=publish(url="/a\rb")),
    "url-tab-offsite": Row(
        "POST", PUBLISH, 422, "validation_error", "url", json=publish(url="/\t/evil.example")
    ),
    # Patterns anchored with $ accepted a trailing newline.
    "type-newline": Row(
        "POST", PUBLISH, 422, "validation_error", "type", json=publish(type="comment\n")
    ),
    "preference-key-nul": Row(
        "PATCH",
        f"{API}/preferences",
        422,
        "validation_error",
        "types.comment",
        "alice",
        {"types": {"comment": {"email\x00": False}}},
    ),
    "tag-newline": Row(
        "POST", PUBLISH, 422, "validation_error", "tags", json=publish(tags=["t\n"])
    ),
    "phone-newline": Row(
        "PATCH", f"{API}/me", 422, "validation_error", "phone", "alice", {"phone": "+15551234567\n"}
    ),
    "preference-type-newline": Row(
        "PATCH",
        f"{API}/preferences",
        422,
        "validation_error",
        "types.comment\n",
        "alice",
        {"types": {"comment\n": {"email": False}}},
    ),
    "quiet-hours-newline": Row(
        "PATCH",
        f"{API}/preferences",
        422,
        "validation_error",
        "quiet_hours.start",
        "alice",
        {"quiet_hours": {"start": "22:00\n"}},
    ),
    # \d matches every script's digits; int() and time.fromisoformat() then fail at publish.
    "quiet-hours-arabic-digit": Row(
        "PATCH",
        f"{API}/preferences",
        422,
        "validation_error",
        "quiet_hours.start",
        "alice",
        {"quiet_hours": {"start": "1\u0663:00"}},
    ),
    "phone-arabic-digits": Row(
        "PATCH",
        f"{API}/me",
        422,
        "validation_error",
        "phone",
        "alice",
        {"phone": "+1555\u0663234567"},
    ),
    # urlsplit raises ValueError on a malformed netloc.
    "url-bad-netloc": Row(
        "POST", PUBLISH, 422, "validation_error", "url", json=publish(url="http://[")
    ),
}


def limits(app: Flask) -> dict[str, int]:
    """Return the first id past each placeholder's column range on ``app``'s database."""
    postgres = db.engine.dialect.name == "postgresql"
    return {BIG: 2**63, INT: 2**31 if postgres else 2**63}


def fill(value: Any, subs: dict[str, int]) -> Any:
    """Replace the id placeholders in a path (as text) or a JSON body (as integers)."""
    if isinstance(value, str):
        for key, number in subs.items():
            if value == key:
                return number
            value = value.replace(key, str(number))
        return value
    if isinstance(value, list):
        return [fill(v, subs) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, subs) for k, v in value.items()}
    return value


def stored() -> dict[str, int]:
    """Count what a publish could have left behind."""
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Notification, ScheduledNotification, Delivery)
    }


@pytest.fixture
def world(any_app: Flask) -> World:
    """The usual two tenants, on whichever database ``any_app`` runs."""
    return factories.make_world()


@pytest.mark.parametrize("name", list(ROWS))
def test_hostile_api_request_is_refused_with_the_error_body(
    any_app: Flask, world: World, name: str
) -> None:
    row = ROWS[name]
    subs = limits(any_app)
    body = fill(row.json, subs)
    headers = {**bearer(getattr(world, f"{row.who}_token")), **(row.headers or {})}
    kwargs: dict[str, Any] = {"headers": headers}
    if row.raw is not None:
        kwargs.update(data=row.raw, content_type="application/json")
    elif body is not None:
        kwargs["json"] = body
    resp = any_app.test_client().open(fill(row.path, subs), method=row.method, **kwargs)
    assert resp.status_code == row.status, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] == row.code
    if row.field is not None:
        assert row.field in error.get("fields", {}), error
    # A refused request leaves nothing behind: no notification, schedule or delivery.
    db.session.rollback()
    assert stored() == {"Notification": 0, "ScheduledNotification": 0, "Delivery": 0}


def test_the_limits_are_exact_on_either_side(any_app: Flask, world: World) -> None:
    """The largest id a column holds is looked up normally; one more is out of range."""
    api = any_app.test_client()
    fits = limits(any_app)[INT] - 1
    for path in (f"{API}/tokens/{fits}", f"{API}/tokens/{fits + 1}"):
        resp = api.delete(path, headers=world.alice_h)
        assert (resp.status_code, resp.get_json()["error"]["code"]) == (404, "not_found")
    resp = api.get(f"{API}/users?before={fits}", headers=world.admin_h)
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 3
    depth_64 = api.patch(f"{API}/preferences", json={"x": nested(63)}, headers=world.alice_h)
    assert (depth_64.status_code, depth_64.get_json()["error"]["fields"]) == (
        422,
        {"x": "unknown field"},
    )
    edge = api.post(
        PUBLISH, json=publish(send_at="9999-12-31T23:00:00+14:00"), headers=world.admin_h
    )
    assert edge.status_code == 202, edge.get_json()


def login(app: Flask, email: str) -> FlaskClient:
    """Return a client signed in through the login form."""
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


PAGE_ROWS: dict[str, tuple[str, str, dict[str, Any] | None, int]] = {
    "inbox-cursor-superscript": ("GET", "/?before=³", None, 400),
    "inbox-cursor-circled": ("GET", "/?before=①", None, 400),
    "inbox-tag-nul": ("GET", "/?tag=a%00", None, 400),
    "inbox-type-nul": ("GET", "/?type=a%00", None, 400),
    "bulk-superscript-id": ("POST", "/notifications/bulk", {"action": "read", "ids": "³"}, 400),
    "bulk-id-range": ("POST", "/notifications/bulk", {"action": "read", "ids": BIG}, 400),
    "read-id-range": ("POST", f"/notifications/{BIG}/read", None, 404),
    "unread-id-range": ("POST", f"/notifications/{BIG}/unread", None, 404),
    "delete-id-range": ("POST", f"/notifications/{BIG}/delete", None, 404),
    "open-id-range": ("GET", f"/notifications/{BIG}/open", None, 404),
    "dead-letter-retry-range": ("POST", f"/admin/dead-letters/{BIG}/retry", None, 404),
    "send-form-nul": ("POST", "/admin/send", {"audience": "tenant", "title": "a\x00"}, 400),
}


@pytest.mark.parametrize("name", list(PAGE_ROWS))
def test_hostile_page_request_gets_a_styled_4xx_page(
    any_app: Flask, world: World, name: str
) -> None:
    method, path, data, status = PAGE_ROWS[name]
    subs = limits(any_app)
    client = login(any_app, "admin@example.com")
    form = {k: str(v) for k, v in fill(data, subs).items()} if data else None
    resp = client.open(fill(path, subs), method=method, data=form)
    assert resp.status_code == status
    page = resp.get_data(as_text=True)
    assert resp.mimetype == "text/html" and "Back to your notifications" in page
    db.session.rollback()
    assert stored() == {"Notification": 0, "ScheduledNotification": 0, "Delivery": 0}


@pytest.mark.parametrize(
    "url", ["/\t/evil.example", "/\n/evil.example", "https://example.com/\r\nSet-Cookie: a=b"]
)
def test_open_never_leaves_the_site_for_a_stored_bad_link(
    any_app: Flask, world: World, url: str
) -> None:
    """A link stored before publish refused control characters is not followed by /open."""
    bad, good = factories.send(world.alice, url="/ok"), factories.send(world.alice, url="/r/42?x=1")
    db.session.execute(update(Notification).where(Notification.id == bad).values(url=url))
    db.session.commit()
    client = login(any_app, "alice@example.com")
    resp = client.get(f"/notifications/{bad}/open")
    assert (resp.status_code, resp.headers["Location"]) == (302, f"/#n-{bad}")
    assert db.session.get(Notification, bad).read_at is not None
    # A good link is still followed.
    resp = client.get(f"/notifications/{good}/open")
    assert (resp.status_code, resp.headers["Location"]) == (302, "/r/42?x=1")


MALFORMED = ["not-an-email", "a@@b.example", "@b.example", "a@", "a b@c.example", "a@-b.example"]


@pytest.mark.parametrize("email", ["admin@corp.local", "x@acme.test", "ops@intranet"])
def test_special_use_and_intranet_addresses_are_accepted(
    any_app: Flask, world: World, email: str
) -> None:
    api = any_app.test_client()
    resp = api.post(
        f"{API}/users", json={"email": email, "password": PASSWORD}, headers=world.admin_h
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["email"] == email
    # The login form takes the same addresses the API creates.
    login(any_app, email)
    # Malformed addresses are still refused.
    for bad in MALFORMED:
        resp = api.post(
            f"{API}/users", json={"email": bad, "password": PASSWORD}, headers=world.admin_h
        )
        assert resp.status_code == 422 and "email" in resp.get_json()["error"]["fields"], bad


def test_an_integral_number_is_the_same_id(any_app: Flask) -> None:
    """JSON Schema counts 4015.0 as an integer, so an id written that way names the same user."""
    world = factories.make_world()
    answer = any_app.test_client().post(
        PUBLISH,
        json={"user_id": float(world.alice.id), "type": "comment", "title": "Hi"},
        headers=bearer(world.admin_token),
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["notification"]["title"] == "Hi"
