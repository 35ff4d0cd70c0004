"""Playwright on the system Chromium against a live server in a subprocess.

conftest.py loads this module as a plugin; tests reach its helpers through the ``ui`` fixture
(importing the module directly would defeat pytest's assertion rewriting of a plugin). The
server comes from ``tests.fixtures_live`` (``python app.py`` on a private port, seeded with
the demo accounts). Screenshots go to ``test-artifacts/`` (git-ignored), one per page at
1280 px and at 375 px wide.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.fixtures_live import LiveServer, http_json

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
#: Generous: a live event crosses a subprocess, a bus and a browser; restarts take seconds.
TIMEOUT_MS = 20_000

DEMO = {
    "admin": ("admin@example.com", "admin-demo-pass"),
    "alice": ("alice@example.com", "alice-demo-pass"),
    "bob": ("bob@example.com", "bob-demo-pass"),
}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (make test does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Session:
    """A signed-in browser context: its pages, and the console errors they logged."""

    def __init__(self, context: BrowserContext, server: LiveServer) -> None:
        self.context = context
        self.server = server
        self.errors: list[str] = []

    def page(self, path: str = "/") -> Page:
        """Open a new tab on ``path``."""
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.goto(self.server.url + path)
        return page

    def _console(self, msg: ConsoleMessage) -> None:
        # Chromium logs refused or dropped stream connections while a server restarts;
        # anything else (CSP violations, htmx errors, script errors) counts.
        if msg.type == "error" and "net::ERR" not in msg.text and "/stream" not in msg.text:
            self.errors.append(msg.text)


@pytest.fixture
def sessions(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Session]]:
    """Open signed-in browser contexts: ``sessions("alice")``; all closed at teardown."""
    opened: list[BrowserContext] = []

    def make(who: str = "alice", viewport: dict[str, int] | None = None) -> Session:
        context = browser.new_context(viewport=viewport or DESKTOP)
        opened.append(context)
        session = Session(context, live_server)
        sign_in(context, live_server, who)
        return session

    yield make
    for context in opened:
        context.close()


def sign_in(context: BrowserContext, server: LiveServer, who: str) -> None:
    """Post the login form from the context's HTTP client: no tab, so no stray stream."""
    form = context.request.get(server.url + "/login").text()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    assert token, "no CSRF token on the login page"
    email, password = DEMO[who]
    resp = context.request.post(
        server.url + "/login",
        form={"csrf_token": token.group(1), "email": email, "password": password},
        max_redirects=0,
    )
    assert resp.status == 302, resp.text()


def login(page: Page, who: str) -> None:
    """Sign in through the login form and wait for the inbox."""
    email, password = DEMO[who]
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


def wait_live(page: Page) -> None:
    """Wait until the page's stream is connected (the indicator says Live)."""
    from playwright.sync_api import expect

    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)


def screenshot(page: Page, name: str, *, dark: bool = False) -> None:
    """Save ``name``-desktop.png and ``name``-phone.png (and a dark desktop one if asked)."""
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    expect(page.locator(".htmx-added, .htmx-settling")).to_have_count(0)  # swaps have settled
    original = page.viewport_size or DESKTOP
    shots = [("desktop", DESKTOP, "light"), ("phone", PHONE, "light")]
    if dark:
        shots.append(("dark-desktop", DESKTOP, "dark"))
    for label, size, scheme in shots:
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size(size)
        page.evaluate("window.scrollTo(0, 0)")  # a sticky header stays on top of the shot
        # caret="initial": hiding the caret injects a <style> that our CSP (rightly) refuses.
        page.screenshot(
            path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True, caret="initial"
        )
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(original)


def api_send(server: LiveServer, token: str, **fields: object) -> dict[str, object]:
    """Send a notification through the REST API as the demo admin; return the answer."""
    status, body = http_json(
        "POST",
        server.url + "/api/v1/notifications",
        {"type": "comment", **fields},
        {"Authorization": f"Bearer {token}"},
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


class UI:
    """The helpers a browser test needs, bound to its live server."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self._token: str | None = None

    @property
    def token(self) -> str:
        """Return an API token of the demo admin (created on first use)."""
        if self._token is None:
            self._token = self.server.create_token(DEMO["admin"][0])
        return self._token

    def send(self, to: str = "alice", **fields: object) -> dict[str, object]:
        """Send a notification to a demo user through the API (live, via the bus)."""
        return api_send(self.server, self.token, email=DEMO[to][0], **fields)

    wait_live = staticmethod(wait_live)
    screenshot = staticmethod(screenshot)


@pytest.fixture
def ui(live_server: LiveServer) -> UI:
    """Helpers bound to the live server: send, wait_live, screenshot."""
    return UI(live_server)
