"""Stream counts are scoped to the caller: a member's own, an admin's tenant (CONTRACT §5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from notifier.extensions import state
from notifier.service import accounts
from tests.conftest import AuthActions
from tests.factories import World, bearer, make_user

STATUS = "/api/v1/notifications/stream/status"
KEYS = {"mode", "redis_available", "active_connections", "active_subscriptions", "instance"}


@pytest.fixture
def streams(client: FlaskClient, world: World) -> Iterator[None]:
    """Open real JSON streams: alice 2, bob 1 (acme), carol 1 and dave 2 (globex)."""
    dave_h = bearer(accounts.create_token(make_user("dave@globex.com", tenant="globex")))
    opened = []
    for headers, n in ((world.alice_h, 2), (world.bob_h, 1), (world.carol_h, 1), (dave_h, 2)):
        for _ in range(n):
            resp = client.get("/api/v1/notifications/stream", headers=headers, buffered=False)
            assert resp.status_code == 200
            opened.append(resp)
    yield
    for resp in opened:
        resp.close()


def status(client: FlaskClient, headers: dict[str, str]) -> dict[str, object]:
    resp = client.get(STATUS, headers=headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == KEYS
    return body


def test_a_member_sees_only_their_own_streams_and_no_process_name(
    client: FlaskClient, world: World, streams: None
) -> None:
    alice = status(client, world.alice_h)
    assert (alice["active_connections"], alice["active_subscriptions"]) == (2, 1)
    assert alice["instance"] == ""
    assert (alice["mode"], alice["redis_available"]) == ("memory", False)
    bob = status(client, world.bob_h)
    assert (bob["active_connections"], bob["active_subscriptions"]) == (1, 1)


def test_an_admin_sees_their_tenants_streams(
    client: FlaskClient, world: World, streams: None
) -> None:
    acme = status(client, world.admin_h)
    assert (acme["active_connections"], acme["active_subscriptions"]) == (3, 2)
    assert acme["instance"] == state().instance  # this process: "test:<pid>:<random>"
    globex = status(client, world.carol_h)
    assert (globex["active_connections"], globex["active_subscriptions"]) == (3, 2)


def test_the_dashboard_counts_only_the_admins_tenant(
    client: FlaskClient, auth: AuthActions, world: World, streams: None
) -> None:
    auth.login("admin@example.com")
    html = client.get("/admin").text
    # acme: alice's 2 and bob's 1; globex's 3 streams are not counted anywhere on the page.
    assert 'id="kpi-connections" data-value="3"' in html
    assert '<td class="num">3</td><td class="num">2</td>' in html  # the process row
    assert "dave@globex.com" not in html and "carol@globex.com" not in html
    assert "alice@example.com" in html  # most connected users, of acme only
