"""The drain in-process: the hub refuses new streams, the views answer 503, others stay fine.

The live behaviour (connections, signals, exit codes) is in tests/test_stream_drain.py; these
pin the contract of ``Hub.drain`` and of the stream views through Flask's test client.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from notifier.bus.hub import Draining, Hub
from notifier.extensions import state
from tests.conftest import AuthActions
from tests.factories import World
from tests.sse_client import Tab

URL = "/api/v1/notifications/stream"


def test_drain_closes_every_subscription_and_refuses_new_ones() -> None:
    hub = Hub(max_per_user=5)
    subs = [hub.subscribe(1, 1), hub.subscribe(1, 1), hub.subscribe(2, 1)]
    assert hub.drain() == 3
    assert all(s.closed and s.close_reason == "shutdown" for s in subs)
    assert hub.total_count() == 0
    with pytest.raises(Draining):
        hub.subscribe(3, 1)
    assert hub.total_count() == 0 and hub.drain() == 0  # idempotent


def test_a_stream_opened_while_draining_gets_503_with_retry_after(
    client: FlaskClient, world: World
) -> None:
    tab = Tab(client, headers=world.alice_h)
    tab.read()
    tab.parser.retry = None
    state().hub.drain()
    tab.read()
    assert tab.parser.retry is not None and 2000 <= tab.parser.retry <= 5000
    tab.read()
    assert tab.ended
    tab.close()

    resp = client.get(URL, headers=world.alice_h)
    assert resp.status_code == 503
    assert 2 <= int(resp.headers["Retry-After"]) <= 5
    assert resp.get_json()["error"] == {
        "code": "draining",
        "message": "this server is restarting; reconnect in a few seconds",
    }
    # Everything else is still answered while the process drains.
    assert client.get("/api/v1/notifications", headers=world.alice_h).status_code == 200


def test_the_page_stream_is_refused_alike(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    assert auth.login().status_code == 302
    state().hub.drain()
    resp = client.get("/stream")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "draining"
