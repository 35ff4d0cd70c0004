"""Templates (CONTRACT §10): CRUD, sandboxed rendering on publish, locales, variants, isolation."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from notifier.extensions import db
from notifier.models import Delivery, Notification, ScheduledNotification, User, utcnow
from notifier.models_flows import Template
from notifier.service import schedule as schedule_svc
from notifier.service.serialize import iso
from notifier.service.template_render import choose_variant
from tests import factories
from tests.conftest import make_app
from tests.factories import World

URL = "/api/v1/templates"
PUBLISH = "/api/v1/notifications"


def add(client: FlaskClient, world: World, **doc: Any) -> Any:
    """Post a template as the acme admin (type "order", in_app, "en" unless given)."""
    body = {"type": "order", "channel": "in_app", **doc}
    return client.post(URL, json=body, headers=world.admin_h)


def publish(client: FlaskClient, world: World, **body: Any) -> Any:
    return client.post(
        PUBLISH, json={"type": "order", "title": "Fallback", **body}, headers=world.admin_h
    )


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_crud_round_trip(client: FlaskClient, world: World) -> None:
    resp = add(client, world, title="Order {{ data.id }}", body="Hi {{ user.email }}")
    assert resp.status_code == 201, resp.json
    tpl = resp.json
    assert tpl["title"] == "Order {{ data.id }}" and tpl["locale"] == "en"
    assert client.get(f"{URL}/{tpl['id']}", headers=world.admin_h).json == tpl
    listed = client.get(URL, headers=world.admin_h).json["items"]
    assert [t["id"] for t in listed] == [tpl["id"]]
    put = client.put(
        f"{URL}/{tpl['id']}",
        json={"type": "order", "channel": "in_app", "title": "Order #{{ data.id }}"},
        headers=world.admin_h,
    )
    assert put.status_code == 200 and put.json["title"] == "Order #{{ data.id }}"
    assert put.json["body"] == ""  # PUT replaces
    assert add(client, world, title="again").status_code == 409
    assert client.delete(f"{URL}/{tpl['id']}", headers=world.admin_h).status_code == 204
    assert client.get(f"{URL}/{tpl['id']}", headers=world.admin_h).status_code == 404


def test_syntax_error_is_422_naming_field_and_line(client: FlaskClient, world: World) -> None:
    resp = add(client, world, title="ok", body="Hello\n{{ data.name }")
    assert resp.status_code == 422
    error = resp.json["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == "body: line 2: unexpected '}'"
    assert error["fields"] == {"body": "line 2: unexpected '}'"}
    assert count_templates() == 0


def count_templates() -> int:
    return count(Template)


@pytest.mark.parametrize(
    ("doc", "field", "message"),
    [
        ({"title": "{{ name }}"}, "title", "line 1: unknown variable 'name' (use data.name)"),
        (
            {"title": "x", "body": "a\n\n{{ user.password_hash }}"},
            "body",
            "line 3: user.password_hash is not available (use one of id, email, locale, timezone)",
        ),
        (
            {"channel": "chat", "title": "{{ user.email }}"},
            "title",
            "line 1: user is not available in a chat template",
        ),
        (
            {"title": "x", "variants": [{"name": "a", "weight": 1, "title": "{% if %}"}]},
            "variants.0.title",
            "line 1: Expected an expression, got 'end of statement block'",
        ),
        ({"title": "x", "locale": "english"}, "locale", 'a language tag such as "en" or "pt-BR"'),
        ({"title": "x", "channel": "fax"}, "channel", None),
    ],
)
def test_bad_templates_are_refused_naming_the_field(
    client: FlaskClient, world: World, doc: dict[str, Any], field: str, message: str | None
) -> None:
    resp = add(client, world, **doc)
    assert resp.status_code == 422, resp.json
    fields = resp.json["error"]["fields"]
    assert field in fields
    if message:
        assert fields[field] == message
    assert count_templates() == 0


def test_publish_renders_inbox_and_each_channel(client: FlaskClient, world: World) -> None:
    add(client, world, title="Order {{ data.order.id }} shipped", body="Hi {{ user.email }}")
    add(
        client,
        world,
        channel="email",
        subject="Your order {{ data.order.id }}",
        html="<p>{{ data.note }} for {{ tenant.name }}</p>",
    )
    resp = publish(
        client,
        world,
        user_id=world.alice.id,
        channels=["in_app", "email"],
        data={"order": {"id": 42}, "note": "<b>fragile</b>"},
    )
    assert resp.status_code == 201, resp.json
    item = resp.json["notification"]
    assert item["title"] == "Order 42 shipped" and item["body"] == "Hi alice@example.com"
    inbox = client.get(PUBLISH, headers=world.alice_h).json["items"]
    assert inbox[0]["title"] == "Order 42 shipped"
    assert count(Delivery) == 0  # email is not configured here (tests/test_email_templates.py)


def test_missing_variable_is_422_naming_it_and_stores_nothing(
    client: FlaskClient, world: World
) -> None:
    add(client, world, title="Order {{ data.order.id }}")
    resp = publish(client, world, user_ids=[world.alice.id, world.bob.id], data={"order": {}})
    assert resp.status_code == 422
    error = resp.json["error"]
    assert "data.order.id" in error["fields"]
    assert error["message"].startswith("data.order.id is missing from data")
    assert count(Notification) == 0
    no_data = publish(client, world, user_id=world.alice.id)
    assert no_data.status_code == 422 and "data.order" in no_data.json["error"]["fields"]


def test_without_a_template_the_publish_is_unchanged(client: FlaskClient, world: World) -> None:
    add(client, world, type="other", title="{{ data.x }}")
    resp = publish(client, world, user_id=world.alice.id, data={"unused": 1})
    assert resp.status_code == 201
    assert resp.json["notification"]["title"] == "Fallback"
    row = db.session.scalars(select(Notification)).one()
    assert row.variant is None


def test_locale_picks_the_template_and_falls_back_to_en(client: FlaskClient, world: World) -> None:
    add(client, world, title="Bestellung {{ data.id }}", locale="de")
    add(client, world, title="Order {{ data.id }}")
    db.session.execute(update(User).where(User.id == world.alice.id).values(locale="de"))
    db.session.execute(update(User).where(User.id == world.bob.id).values(locale="fr"))
    db.session.commit()
    resp = publish(client, world, user_ids=[world.alice.id, world.bob.id], data={"id": 7})
    assert resp.status_code == 201, resp.json
    titles = dict(db.session.execute(select(Notification.user_id, Notification.title)).all())
    assert titles == {world.alice.id: "Bestellung 7", world.bob.id: "Order 7"}


def test_variants_are_stable_and_stored(client: FlaskClient, world: World) -> None:
    variants = [
        {"name": "short", "weight": 1, "title": "#{{ data.id }}"},
        {"name": "long", "weight": 1, "title": "Your order {{ data.id }} is on its way"},
    ]
    tpl = add(client, world, title="Order {{ data.id }}", variants=variants).json
    users = [world.alice.id, world.bob.id, world.admin.id]
    for _ in range(2):
        assert publish(client, world, user_ids=users, data={"id": 1}).status_code == 201
    rows = db.session.execute(
        select(Notification.user_id, Notification.variant, Notification.title)
    )
    seen: dict[int, set[tuple[str, str]]] = {}
    for uid, variant, title in rows:
        seen.setdefault(uid, set()).add((variant, title))
    for uid in users:
        [(variant, title)] = seen[uid]  # the same arm both times
        expected = choose_variant(tpl["id"], uid, variants)
        assert expected is not None and variant == expected["name"]
        assert title == ("#1" if variant == "short" else "Your order 1 is on its way")


def test_variant_weights_split_a_population_as_asked() -> None:
    arms = [{"name": "a", "weight": 1}, {"name": "b", "weight": 3}]
    counts = Counter(str(choose_variant(17, uid, arms)["name"]) for uid in range(1, 1001))  # type: ignore[index]
    assert 200 <= counts["a"] <= 300 and counts["a"] + counts["b"] == 1000
    # Stable across calls (sha256, not the per-process salted hash()).
    assert [choose_variant(17, u, arms) for u in range(50)] == [
        choose_variant(17, u, arms) for u in range(50)
    ]
    assert choose_variant(17, 1, [{"name": "off", "weight": 0}]) is None


def test_another_tenants_template_is_404(client: FlaskClient, world: World) -> None:
    tpl = add(client, world, title="x").json
    for method in ("get", "delete"):
        resp = getattr(client, method)(f"{URL}/{tpl['id']}", headers=world.carol_h)
        assert resp.status_code == 404
    put = client.put(
        f"{URL}/{tpl['id']}",
        json={"type": "order", "channel": "in_app", "title": "mine"},
        headers=world.carol_h,
    )
    assert put.status_code == 404
    assert client.get(URL, headers=world.carol_h).json["items"] == []
    # carol's own publish of the type is not rendered from acme's template
    resp = client.post(
        PUBLISH,
        json={"type": "order", "title": "Globex", "user_id": world.carol.id},
        headers=world.carol_h,
    )
    assert resp.status_code == 201 and resp.json["notification"]["title"] == "Globex"


def test_members_may_not_touch_templates(client: FlaskClient, world: World) -> None:
    assert client.get(URL, headers=world.alice_h).status_code == 403
    assert add_as(client, world.alice_h).status_code == 403


def add_as(client: FlaskClient, headers: dict[str, str]) -> Any:
    return client.post(URL, json={"type": "order", "channel": "in_app"}, headers=headers)


def test_scheduled_send_validates_now_and_renders_at_send_time(
    client: FlaskClient, world: World
) -> None:
    add(client, world, title="Invoice {{ data.n }}")
    later = iso(utcnow() + timedelta(hours=1))
    bad = publish(client, world, user_id=world.alice.id, send_at=later, data={})
    assert bad.status_code == 422 and "data.n" in bad.json["error"]["fields"]
    assert count(ScheduledNotification) == 0
    ok = publish(client, world, user_id=world.alice.id, send_at=later, data={"n": 9})
    assert ok.status_code == 202, ok.json
    db.session.execute(update(ScheduledNotification).values(send_at=utcnow()))
    db.session.commit()
    assert schedule_svc.release_due() == 1
    assert db.session.scalars(select(Notification.title)).all() == ["Invoice 9"]


def test_templates_on_postgres(postgres_url: str) -> None:
    app = make_app(postgres_url)
    with app.app_context():
        world = factories.make_world()
        client = app.test_client()
        _round_trip_on(client, world, app)
        db.session.remove()
        db.engine.dispose()


def _round_trip_on(client: FlaskClient, world: World, app: Flask) -> None:
    tpl = add(client, world, title="Order {{ data.id }}", variants=[{"name": "a", "weight": 1}])
    assert tpl.status_code == 201, tpl.json
    assert add(client, world, title="dup").status_code == 409  # the unique key, on PostgreSQL
    resp = publish(client, world, user_ids=[world.alice.id, world.bob.id], data={"id": 3})
    assert resp.status_code == 201, resp.json
    rows = db.session.execute(select(Notification.title, Notification.variant)).all()
    assert sorted(rows) == [("Order 3", "a"), ("Order 3", "a")]
    assert publish(client, world, user_id=world.alice.id).status_code == 422
    assert count(Notification) == 2


@pytest.mark.parametrize(
    "source",
    [
        '{{ "x" * 100000000 }}',
        '{{ "x"|center(100000000) }}',
        '{{ "%100000000s" % "x" }}',
        '{{ "{:>100000000}".format(1) }}',
        "{% for i in range(100000) %}x{% endfor %}",
        "{{ data.__class__ }}",
    ],
)
def test_the_sandbox_refuses_escapes_and_huge_output(
    client: FlaskClient, world: World, source: str
) -> None:
    assert add(client, world, title=source).status_code == 201
    resp = publish(client, world, user_id=world.alice.id, data={})
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "template_error"
    assert set(resp.json["error"]["fields"]) == {"template.in_app.title"}
    assert count(Notification) == 0


def test_jinja_helpers_still_work(client: FlaskClient, world: World) -> None:
    source = (
        "{% set ns = namespace(n=0) %}{% for i in data['items'] %}{% set ns.n = ns.n + i %}"
        '{% endfor %}{{ ns.n }} {{ "{:,}".format(data.total) }} {{ "%.2f"|format(data.p) }}'
    )
    assert add(client, world, title=source).status_code == 201
    resp = publish(
        client, world, user_id=world.alice.id, data={"items": [1, 2], "total": 1234567, "p": 2.5}
    )
    assert resp.status_code == 201, resp.json
    assert resp.json["notification"]["title"] == "3 1,234,567 2.50"


def test_locale_matches_without_case_and_by_language(client: FlaskClient, world: World) -> None:
    add(client, world, title="Pedido {{ data.id }}", locale="pt-BR")
    add(client, world, title="Commande {{ data.id }}", locale="fr")
    add(client, world, title="Order {{ data.id }}")
    for user, locale in ((world.alice, "pt-br"), (world.bob, "fr-CA"), (world.admin, "de")):
        db.session.execute(update(User).where(User.id == user.id).values(locale=locale))
    db.session.commit()
    users = [world.alice.id, world.bob.id, world.admin.id]
    assert publish(client, world, user_ids=users, data={"id": 1}).status_code == 201
    titles = dict(db.session.execute(select(Notification.user_id, Notification.title)).all())
    assert titles == {
        world.alice.id: "Pedido 1",
        world.bob.id: "Commande 1",
        world.admin.id: "Order 1",
    }
