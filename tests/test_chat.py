"""Chat integrations: the API, and Slack/Discord messages posted to a real HTTP receiver.

The receiver (tests/fixtures_receivers.py) plays Slack's and Discord's incoming webhooks on
loopback; NOTIFIER_WEBHOOK_ALLOW_PRIVATE lets the app post there, as in development.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from notifier.delivery import tick
from notifier.extensions import db
from notifier.models import ChatIntegration, Delivery
from notifier.service import preferences
from tests.conftest import make_app
from tests.factories import World, make_world
from tests.fixtures_receivers import HttpReceiver
from tests.test_delivery import make_due, reload

URL = "/api/v1/integrations"
SLACK_URL = "https://93.184.216.34/services/T0001/B0002/abcdefghijklmnopqrstWXYZ"


@pytest.fixture
def chat_app(tmp_path: Any) -> Iterator[Flask]:
    app = make_app(
        f"sqlite:///{tmp_path / 'chat.sqlite'}",
        NOTIFIER_WEBHOOK_ALLOW_PRIVATE=True,
        NOTIFIER_BASE_URL="https://notify.example.com",
        NOTIFIER_RETRY_MAX_ATTEMPTS=3,
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def chat_world(chat_app: Flask) -> World:
    return make_world()


@pytest.fixture
def chat_client(chat_app: Flask) -> FlaskClient:
    return chat_app.test_client()


def publish(client: FlaskClient, world: World, **fields: Any) -> dict[str, Any]:
    body = {"email": "alice@example.com", "type": "deploy", "title": "Deploy done", **fields}
    resp = client.post("/api/v1/notifications", json=body, headers=world.admin_h)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def chat_rows() -> list[Delivery]:
    return list(db.session.scalars(select(Delivery).where(Delivery.channel == "chat")))


# --- API -------------------------------------------------------------------------------------


def test_integration_crud_never_shows_the_url(client: FlaskClient, world: World) -> None:
    resp = client.post(
        URL, json={"kind": "slack", "url": SLACK_URL, "types": ["deploy"]}, headers=world.admin_h
    )
    assert resp.status_code == 201
    created = resp.get_json()
    assert created["kind"] == "slack" and created["types"] == ["deploy"]
    assert created["url"] == "https://93.184.216.34/…WXYZ"
    assert "abcdefghijkl" not in resp.get_data(as_text=True)

    listed = client.get(URL, headers=world.admin_h)
    assert [i["id"] for i in listed.get_json()["items"]] == [created["id"]]
    assert "abcdefghijkl" not in listed.get_data(as_text=True)

    assert client.delete(f"{URL}/{created['id']}", headers=world.admin_h).status_code == 204
    assert client.get(URL, headers=world.admin_h).get_json() == {"items": []}
    assert client.delete(f"{URL}/{created['id']}", headers=world.admin_h).status_code == 404


def test_other_tenants_integrations_are_404(client: FlaskClient, world: World) -> None:
    made = client.post(URL, json={"kind": "discord", "url": SLACK_URL}, headers=world.admin_h)
    iid = made.get_json()["id"]
    assert client.get(URL, headers=world.carol_h).get_json() == {"items": []}
    resp = client.delete(f"{URL}/{iid}", headers=world.carol_h)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert len(client.get(URL, headers=world.admin_h).get_json()["items"]) == 1


def test_members_may_not_manage_integrations(client: FlaskClient, world: World) -> None:
    assert client.get(URL, headers=world.alice_h).status_code == 403
    resp = client.post(URL, json={"kind": "slack", "url": SLACK_URL}, headers=world.alice_h)
    assert resp.status_code == 403
    assert client.get(URL).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "teams", "url": SLACK_URL}, "kind"),
        ({"url": SLACK_URL}, "kind"),
        ({"kind": "slack"}, "url"),
        ({"kind": "slack", "url": "http://93.184.216.34/hook"}, "url"),  # https only
        ({"kind": "slack", "url": "https://127.0.0.1/hook"}, "url"),  # SSRF: loopback
        ({"kind": "slack", "url": "https://10.1.2.3/hook"}, "url"),  # SSRF: private
        ({"kind": "slack", "url": "https://[::ffff:127.0.0.1]/hook"}, "url"),
        ({"kind": "slack", "url": "ftp://93.184.216.34/hook"}, "url"),
        ({"kind": "slack", "url": 7}, "url"),
        ({"kind": "slack", "url": SLACK_URL, "types": "deploy"}, "types"),
        ({"kind": "slack", "url": SLACK_URL, "types": ["bad type"]}, "types"),
        ({"kind": "slack", "url": SLACK_URL, "channel": "#x"}, "channel"),
    ],
)
def test_bad_integrations_are_422_and_store_nothing(
    client: FlaskClient, world: World, body: dict[str, Any], field: str
) -> None:
    resp = client.post(URL, json=body, headers=world.admin_h)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
    assert client.get(URL, headers=world.admin_h).get_json() == {"items": []}


def test_http_to_loopback_only_when_the_config_allows(
    chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    resp = chat_client.post(
        URL, json={"kind": "slack", "url": http_receiver.url("/x")}, headers=chat_world.admin_h
    )
    assert resp.status_code == 201


def test_chat_is_a_preference_channel(client: FlaskClient, world: World) -> None:
    prefs = client.get("/api/v1/preferences", headers=world.alice_h).get_json()
    assert prefs["channels"]["chat"] is True
    resp = client.patch(
        "/api/v1/preferences", json={"types": {"deploy": {"chat": False}}}, headers=world.alice_h
    )
    assert resp.status_code == 200
    assert resp.get_json()["types"]["deploy"] == {"chat": False}


# --- delivery --------------------------------------------------------------------------------


def add(client: FlaskClient, world: World, kind: str, url: str, **extra: Any) -> int:
    resp = client.post(URL, json={"kind": kind, "url": url, **extra}, headers=world.admin_h)
    assert resp.status_code == 201, resp.get_json()
    return int(resp.get_json()["id"])


def test_slack_gets_blocks_with_colour_title_body_and_links(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    add(chat_client, chat_world, "slack", http_receiver.url("/services/T1/B2/secret"))
    out = publish(
        chat_client,
        chat_world,
        body="v1.2.3 is live <@here> & ready",
        priority="urgent",
        url="/deploys/42",
    )
    assert out["result"]["channels"]["chat"] is True

    assert tick(chat_app) == 1

    [req] = http_receiver.requests
    assert (req.method, req.path) == ("POST", "/services/T1/B2/secret")
    assert req.headers["Content-Type"] == "application/json"
    msg = req.json()
    assert msg["text"] == "Deploy done: v1.2.3 is live &lt;@here&gt; &amp; ready"
    [attachment] = msg["attachments"]
    assert attachment["color"] == "#d6322b"  # urgent
    header, section, context, actions = attachment["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Deploy done", "emoji": True},
    }
    assert section["text"] == {"type": "mrkdwn", "text": "v1.2.3 is live &lt;@here&gt; &amp; ready"}
    assert context["elements"][0]["text"] == "deploy · priority urgent"
    [button] = actions["elements"]
    assert button["type"] == "button" and button["text"]["text"] == "Open"
    assert button["url"] == "https://notify.example.com/deploys/42"
    assert reload(chat_rows()[0].id).status == "sent"


def test_discord_gets_an_embed_and_no_mentions(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    http_receiver.script(204)  # what Discord answers
    add(chat_client, chat_world, "discord", http_receiver.url("/api/webhooks/1/tok"))
    publish(
        chat_client,
        chat_world,
        body="@everyone v1.2.3",
        priority="high",
        url="https://ci.example.com/7",
    )

    tick(chat_app)

    [req] = http_receiver.requests
    msg = req.json()
    assert msg["allowed_mentions"] == {"parse": []}
    [embed] = msg["embeds"]
    assert embed["title"] == "Deploy done"
    assert embed["description"] == "@everyone v1.2.3"
    assert embed["url"] == "https://ci.example.com/7"
    assert embed["color"] == 0xE8A317  # high
    assert embed["fields"] == [
        {"name": "Priority", "value": "high", "inline": True},
        {"name": "Type", "value": "deploy", "inline": True},
        {"name": "Links", "value": "[Open](https://ci.example.com/7)", "inline": False},
    ]
    assert embed["timestamp"].endswith("Z")
    assert reload(chat_rows()[0].id).status == "sent"


def test_one_post_per_integration_and_type_filter(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    add(chat_client, chat_world, "slack", http_receiver.url("/deploys"), types=["deploy"])
    add(chat_client, chat_world, "slack", http_receiver.url("/billing"), types=["billing"])
    resp = chat_client.post(
        "/api/v1/notifications",
        json={"tenant": True, "type": "deploy", "title": "To everyone"},
        headers=chat_world.admin_h,
    )
    assert resp.status_code == 201

    tick(chat_app)

    # Three recipients, one matching integration: one message in the team channel.
    assert [r.path for r in http_receiver.requests] == ["/deploys"]


def test_preferences_decide_whether_chat_carries_a_type(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    add(chat_client, chat_world, "slack", http_receiver.url("/hook"))
    preferences.set_preferences(
        chat_world.alice, {"types": {"deploy": {"chat": False}}}, merge=True
    )

    out = publish(chat_client, chat_world)

    assert out["result"]["channels"]["chat"] is False
    assert out["result"]["errors"]["chat"] == "disabled by preferences"
    assert chat_rows() == []


def test_no_integration_is_reported_in_the_result(
    chat_client: FlaskClient, chat_world: World
) -> None:
    out = publish(chat_client, chat_world)
    assert out["result"]["channels"]["chat"] is False
    assert out["result"]["errors"]["chat"] == "no chat integration for this type"


def test_a_500_is_retried_and_then_delivered(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    http_receiver.script(500)
    add(chat_client, chat_world, "slack", http_receiver.url("/hook"))
    publish(chat_client, chat_world)

    tick(chat_app)
    [row] = chat_rows()
    row = reload(row.id)
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        1,
        "slack webhook answered 500",
    )

    make_due(row.id)
    tick(chat_app)

    first, second = http_receiver.requests
    assert first.body == second.body
    assert reload(row.id).status == "sent"


def test_repeated_failures_become_a_dead_letter(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    http_receiver.script(503, 503, 503)
    add(chat_client, chat_world, "discord", http_receiver.url("/hook"))
    publish(chat_client, chat_world)
    [row] = chat_rows()

    for _ in range(3):  # NOTIFIER_RETRY_MAX_ATTEMPTS=3
        make_due(row.id)
        tick(chat_app)

    row = reload(row.id)
    assert (row.status, row.attempts) == ("dead", 3)
    assert row.last_error == "gave up after 3 attempts: discord webhook answered 503"
    assert len(http_receiver.requests) == 3


def test_a_removed_slack_webhook_is_dead_at_once(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    http_receiver.script(404)  # Slack: no_service
    add(chat_client, chat_world, "slack", http_receiver.url("/hook"))
    publish(chat_client, chat_world)

    tick(chat_app)

    [row] = chat_rows()
    assert (reload(row.id).status, reload(row.id).attempts) == ("dead", 1)


def test_ssrf_guard_refuses_at_send_time(
    app: Flask, client: FlaskClient, world: World, http_receiver: HttpReceiver
) -> None:
    """A stored URL that now points at loopback (DNS changed, or set by hand) is refused."""
    db.session.add(
        ChatIntegration(tenant_id=world.acme.id, kind="slack", url=http_receiver.url("/hook"))
    )
    db.session.commit()
    publish(client, world)

    tick(app)

    [row] = chat_rows()
    row = reload(row.id)
    assert row.status == "dead"
    assert row.last_error.startswith("refused slack webhook: 127.0.0.1 resolves to a non-public")
    assert http_receiver.requests == []


def test_a_deleted_integration_sends_nothing(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    iid = add(chat_client, chat_world, "slack", http_receiver.url("/hook"))
    publish(chat_client, chat_world)
    assert chat_client.delete(f"{URL}/{iid}", headers=chat_world.admin_h).status_code == 204

    tick(chat_app)

    [row] = chat_rows()
    assert (reload(row.id).status, reload(row.id).last_error) == (
        "dead",
        "the chat integration was deleted",
    )
    assert http_receiver.requests == []


def test_with_a_workflow_chat_posts_once_at_publish_and_is_no_step(
    chat_app: Flask, chat_client: FlaskClient, chat_world: World, http_receiver: HttpReceiver
) -> None:
    """A type with a workflow still posts to chat once per publish; a chat step is refused.

    The steps run per recipient; a chat post is one per tenant integration, so it goes out
    when the publish is accepted (docs/workflows.md says why) and the runs never repeat it.
    """
    add(chat_client, chat_world, "slack", http_receiver.url("/team"))
    url = "/api/v1/workflows/deploy"
    refused = chat_client.put(
        url, json={"steps": [{"channel": "chat"}]}, headers=chat_world.admin_h
    )
    assert refused.status_code == 422
    assert "steps.channel" in refused.get_json()["error"]["fields"]
    steps = [{"channel": "in_app"}, {"wait": "PT10M", "unless": "read"}, {"channel": "email"}]
    saved = chat_client.put(url, json={"steps": steps}, headers=chat_world.admin_h)
    assert saved.status_code == 201, saved.get_json()

    resp = chat_client.post(
        "/api/v1/notifications",
        json={
            "tenant": True,
            "type": "deploy",
            "title": "To everyone",
            "channels": ["in_app", "chat"],
        },
        headers=chat_world.admin_h,
    )
    assert resp.status_code == 201
    assert resp.get_json()["result"]["channels"]["chat"] is True
    tick(chat_app)

    assert [r.path for r in http_receiver.requests] == ["/team"]  # one post, three recipients
    assert http_receiver.requests[0].json()["text"] == "To everyone"
