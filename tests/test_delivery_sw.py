"""Test the Web Push service worker: how /sw.js is served and what it shows in Chromium."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient


def test_service_worker_is_served_from_the_root(client: FlaskClient) -> None:
    resp = client.get("/sw.js")

    assert resp.status_code == 200
    assert resp.mimetype == "application/javascript"
    assert resp.headers["Service-Worker-Allowed"] == "/"
    assert resp.headers["Cache-Control"] == "no-cache"
    text = resp.get_data(as_text=True)
    assert 'addEventListener("push"' in text and 'addEventListener("notificationclick"' in text


@pytest.mark.browser
def test_service_worker_shows_a_pushed_notification(live_server: Any, browser: Any) -> None:
    """Register /sw.js in headless Chromium, deliver a push over CDP, read what it showed.

    Chromium cannot subscribe to a real push service here, so DevTools hands the payload to
    the worker the way the push service would. Clicks on system notifications cannot be
    driven headless; the click handler is left to manual checks.
    """
    origin = live_server.url
    payload = {"title": "Deploy done", "body": "v2 is live", "url": "/n/5", "tag": "n-5", "id": 5}
    context = browser.new_context()
    try:
        context.grant_permissions(["notifications"], origin=origin)
        page = context.new_page()
        page.goto(origin + "/healthz")
        cdp = context.new_cdp_session(page)
        registrations: list[dict[str, Any]] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        scope = page.evaluate(
            """async () => {
                const reg = await navigator.serviceWorker.register("/sw.js", {scope: "/"});
                await navigator.serviceWorker.ready;
                return reg.scope;
            }"""
        )
        assert scope == origin + "/"
        for _ in range(100):  # DevTools events arrive while Playwright waits on something.
            if registrations:
                break
            page.wait_for_timeout(50)
        [registration_id] = {r["registrationId"] for r in registrations}
        for data in (payload, {**payload, "url": "javascript:alert(1)", "tag": "n-6"}):
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": origin, "registrationId": registration_id, "data": json.dumps(data)},
            )
        # Poll with evaluate: an async predicate given to wait_for_function returns a Promise,
        # which is truthy at once, so that wait could end before the notifications exist.
        shown: list[dict[str, object]] = []
        deadline = time.monotonic() + 15
        while len(shown) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
            shown = page.evaluate(
                """async () => {
                    const reg = await navigator.serviceWorker.ready;
                    const list = await reg.getNotifications();
                    return list.map(n => ({title: n.title, body: n.body, tag: n.tag,
                                           data: n.data}));
                }"""
            )
    finally:
        context.close()
    assert sorted(shown, key=lambda n: n["tag"]) == [
        {
            "title": "Deploy done",
            "body": "v2 is live",
            "tag": "n-5",
            "data": {"url": origin + "/n/5", "id": 5},
        },
        # Only http(s) URLs may be opened on click; anything else falls back to the inbox.
        {
            "title": "Deploy done",
            "body": "v2 is live",
            "tag": "n-6",
            "data": {"url": origin + "/", "id": 5},
        },
    ]
