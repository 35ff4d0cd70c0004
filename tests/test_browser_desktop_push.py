"""Desktop alerts with VAPID configured, in Chromium: the switch registers /sw.js and subscribes.

Issue 11 item 5 and CONTRACT §9: "with VAPID configured the same switch registers the service
worker and a Web Push subscription". The service worker registration is Chromium's own; only
``PushManager.subscribe`` is replaced, because headless Chromium here reaches no push service
(it would fail with "push service not available"): the replacement answers with a
subscription of the shape a push service gives, and records the key it was asked for. What
the showing of a pushed message does is tests/test_delivery_sw.py's.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from notifier.channels.push import generate_vapid_keys
from tests.fixtures_live import DatabaseTemplates, LiveServer
from tests.test_api_push import AUTH, ENDPOINT, P256DH

pytestmark = pytest.mark.browser

VAPID = generate_vapid_keys()
SUBSCRIBE_STUB = """
(() => {
  window.__subscribed = [];
  PushManager.prototype.getSubscription = async function () { return null; };
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__subscribed.push({ userVisibleOnly: options.userVisibleOnly, key: Array.from(key) });
    const doc = { endpoint: ENDPOINT, expirationTime: null, keys: { p256dh: P256DH, auth: AUTH } };
    return { toJSON: () => doc };
  };
})();
"""


@pytest.fixture
def live_server(tmp_path: Path, live_db_templates: DatabaseTemplates) -> Iterator[LiveServer]:
    """The demo server with Web Push configured."""
    public, private = VAPID
    env = {"NOTIFIER_VAPID_PUBLIC_KEY": public, "NOTIFIER_VAPID_PRIVATE_KEY": private}
    server = LiveServer(tmp_path, env)
    if not live_db_templates.copy_into(server, env, seed=True):
        server.flask("init-db")
        server.flask("seed-demo")
    server.start()
    yield server
    server.stop()


def test_the_switch_registers_the_service_worker_and_stores_a_subscription(
    sessions, ui, live_server: LiveServer, tmp_path: Path
) -> None:
    alice = sessions("alice")
    alice.context.grant_permissions(["notifications"], origin=live_server.url)
    stub = SUBSCRIBE_STUB.replace("ENDPOINT", json.dumps(ENDPOINT))
    stub = stub.replace("P256DH", json.dumps(P256DH)).replace("AUTH", json.dumps(AUTH))
    alice.context.add_init_script(stub)
    page = alice.page("/")
    ui.wait_live(page)
    switch = page.get_by_role("switch", name="Desktop alerts")
    switch.check()
    expect(page.locator("#desktop-alerts-note")).to_have_text(
        "On, also with this tab closed (Web Push)."
    )
    scope = page.evaluate(
        "navigator.serviceWorker.getRegistration('/').then(r => r && r.active && r.scope)"
    )
    assert scope == live_server.url + "/"
    [asked] = page.evaluate("window.__subscribed")
    public = VAPID[0]
    padded = public + "=" * (-len(public) % 4)
    assert bytes(asked["key"]) == base64.urlsafe_b64decode(padded)  # the server's VAPID key
    assert asked["userVisibleOnly"] is True
    with sqlite3.connect(tmp_path / "live.sqlite") as conn:
        rows = conn.execute(
            "SELECT u.email, p.endpoint FROM push_subscriptions p JOIN users u ON u.id = p.user_id"
        ).fetchall()
    assert rows == [("alice@example.com", ENDPOINT)]
    assert alice.errors == []
