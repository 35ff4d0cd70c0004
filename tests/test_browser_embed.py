"""The embeddable inbox in Chromium, on pages served from ANOTHER origin (CONTRACT §11).

A second local HTTP server (another port: another origin) serves host pages that load
``/embed.js`` from the Notifier server and show ``<notifier-inbox>``: a notification
published through the API arrives live and is marked read from the widget; a wrong hash shows
an error; a page on an origin the tenant did not list is refused by CORS.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.fixtures_live import LiveServer, free_port, http_json
from tests.sse_client import bearer, publish, token_for

pytestmark = pytest.mark.browser

ALICE = "alice@example.com"
# As tests/fixtures_browser.py has them (a plugin module: not imported, pytest rewrites it).
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 740}}
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Host shop</title></head>
<body><h1>Host shop</h1>
<script src="{base}/embed.js"></script>
<notifier-inbox user="{email}" hash="{digest}"></notifier-inbox>
</body></html>"""


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def host_sites(tmp_path: Path) -> Iterator[list[str]]:
    """Two static sites on other ports (two more origins), serving tmp_path/site."""
    site = tmp_path / "site"
    site.mkdir()
    servers = []
    for _ in range(2):
        handler = functools.partial(Quiet, directory=str(site))
        server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_widget_on_another_origin_is_live_marks_read_and_refuses_bad_hash_and_origin(
    browser, live_server: LiveServer, host_sites: list[str], tmp_path: Path
) -> None:
    import hashlib
    import hmac

    listed, unlisted = host_sites
    admin, alice = token_for(live_server, "admin@example.com"), token_for(live_server, ALICE)
    status, body = http_json(
        "PUT", live_server.url + "/api/v1/embed", {"origins": [listed]}, headers=bearer(admin)
    )
    assert status == 200 and body["origins"] == [listed]
    digest = hmac.new(body["secret"].encode(), ALICE.encode(), hashlib.sha256).hexdigest()
    site = tmp_path / "site"
    for name, signed in (("good.html", digest), ("bad.html", "0" * 64)):
        page_html = PAGE.format(base=live_server.url, email=ALICE, digest=signed)
        (site / name).write_text(page_html)

    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(listed + "/good.html")
        badge = page.locator("notifier-inbox .badge")
        expect(badge).to_have_text("4")  # the demo inbox's four unread
        page.locator("notifier-inbox .bell").click()
        items = page.locator("notifier-inbox li")
        expect(items).to_have_count(4)

        assert publish(live_server.url, admin, ALICE, "Order shipped", "It is on its way.") == 201
        first = items.first
        expect(first.locator(".title")).to_have_text("Order shipped")  # live, over SSE
        expect(badge).to_have_text("5")
        first.get_by_role("button", name="Mark read").click()
        expect(first).to_have_class("read")  # the update event came back on the stream
        expect(badge).to_have_text("4")
        status, stats = http_json(
            "GET", live_server.url + "/api/v1/notifications/stats", headers=bearer(alice)
        )
        assert status == 200 and stats["unread"] == 4
        # The open popover showed every item: they are reported seen.
        first.get_by_role("button", name="Archive").click()
        expect(items).to_have_count(4)  # the archive update removed it from the widget
        expect(page.locator("notifier-inbox li .title", has_text="Order shipped")).to_have_count(0)
        status, stats = http_json(
            "GET", live_server.url + "/api/v1/notifications/stats", headers=bearer(alice)
        )
        assert status == 200 and stats["archived"] == 1 and stats["unseen"] == 0, stats
        assert errors == []

        page.goto(listed + "/bad.html")
        expect(page.locator("notifier-inbox .error")).to_contain_text("(401)")

        page.goto(unlisted + "/good.html")  # the right hash, from an origin not in the list
        expect(page.locator("notifier-inbox .error")).to_have_text(
            "Could not reach the notification service"
        )
    finally:
        context.close()


def test_demo_page_for_admins_shows_the_widget(sessions, ui) -> None:
    admin = sessions("admin")
    page = admin.page("/embed/demo")
    expect(page.locator("#demo-inbox .bell")).to_be_visible()
    page.locator("#demo-inbox .bell").click()
    expect(page.locator("#demo-inbox [role=status], #demo-inbox li").first).to_be_visible()
    ui.send("admin", title="Demo ping", body="The widget shows it live.")
    expect(page.locator("#demo-inbox li .title").first).to_have_text("Demo ping")
    # The page's own stream announces it too: a toast, checked below once it has faded in.
    expect(page.locator(".toast", has_text="Demo ping")).to_be_visible()
    for scheme in ("light", "dark"):  # axe-core reaches into the widget's open shadow root
        page.emulate_media(color_scheme=scheme)
        # The live toast fades in (opacity 0 -> 1): checked mid-fade its text blends into the
        # background (4.18:1 seen once under load), which is not what a reader ends up with.
        page.wait_for_function(
            "() => document.getAnimations().every(a => a.playState !== 'running')"
        )
        results = Axe().run(page)
        assert results.violations_count == 0, f"{scheme}: {results.generate_report()}"
    # The page with the popover open, at 1280 and 375 px, light and dark (test-artifacts/).
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme, (label, size) in itertools.product(("light", "dark"), SIZES.items()):
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size(size)
        name = f"embed-demo-{'dark-' if scheme == 'dark' else ''}{label}.png"
        page.screenshot(path=str(ARTIFACTS / name), full_page=True, caret="initial")
    assert admin.errors == []  # no CSP violation on our own page
    member = sessions("alice").page("/embed/demo")
    expect(member.locator("h1")).not_to_have_text("Embedded inbox")  # 404 for members
