"""Issue 11 in Chromium: action buttons, desktop alerts, unsubscribe, "why", time to screen.

The server runs with the real receivers: webhooks go to the HTTP receiver fixture, email to
the aiosmtpd server, and NOTIFIER_BASE_URL is the server's own address so links in mail work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from notifier.channels.webhook import sign
from tests.fixtures_live import DatabaseTemplates, LiveServer, http_json
from tests.fixtures_receivers import HttpReceiver, SmtpServer

pytestmark = pytest.mark.browser

# Spy on the Notification API and make the page look hidden (a background tab).
HIDDEN_SPY = """
(() => {
  const Real = window.Notification;
  window.__alerts = [];
  class Spy {
    constructor(title, options) {
      window.__alerts.push({ title: title, options: options || {} });
      window.__shown = (window.__shown || []).concat([this]);
      this.title = title;
    }
    close() {}
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
  }
  window.Notification = Spy;
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => "hidden" });
  Object.defineProperty(Document.prototype, "hidden", { get: () => true });
})();
"""


@pytest.fixture
def live_server(
    tmp_path: Path,
    smtp_server: SmtpServer,
    http_receiver: HttpReceiver,
    live_db_templates: DatabaseTemplates,
) -> Iterator[LiveServer]:
    """The demo server with email, private webhooks and its own URL as NOTIFIER_BASE_URL."""
    env = {k: str(v) for k, v in smtp_server.config().items()}
    server = LiveServer(tmp_path, {**env, "NOTIFIER_WEBHOOK_ALLOW_PRIVATE": "1"})
    server.env["NOTIFIER_BASE_URL"] = server.url
    # seed-demo sends in-app only, so the SMTP port (new per test) cannot change what it writes.
    if not live_db_templates.copy_into(server, {"NOTIFIER_WEBHOOK_ALLOW_PRIVATE": "1"}, seed=True):
        server.flask("init-db")
        server.flask("seed-demo")
    server.start()
    yield server
    server.stop()


def item(page: Page, title: str):
    return page.locator(".item").filter(has=page.get_by_role("heading", name=title, exact=True))


def test_an_action_button_calls_the_signed_webhook(
    sessions, ui, live_server: LiveServer, http_receiver: HttpReceiver
) -> None:
    status, hook = http_json(
        "POST",
        live_server.url + "/api/v1/webhooks",
        {"url": http_receiver.url("/hooks/actions"), "types": ["action"]},
        {"Authorization": f"Bearer {ui.token}"},
    )
    assert status == 201, hook
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    sent = ui.send(
        "alice",
        title="Expense #7 needs approval",
        channels=["in_app"],
        actions=[
            {"id": "approve", "label": "Approve", "callback": True},
            {"id": "details", "label": "Details", "url": "/preferences", "style": "secondary"},
        ],
    )
    nid = sent["notification"]["id"]  # type: ignore[index]
    row = item(page, "Expense #7 needs approval")
    expect(row.get_by_role("button", name="Approve")).to_have_class(re.compile(r"\bprimary\b"))
    expect(row.get_by_role("button", name="Details")).to_have_class(re.compile(r"\bsecondary\b"))
    ui.screenshot(page, "inbox-actions", dark=True)

    row.get_by_role("button", name="Approve").click()

    expect(row).to_have_class(re.compile(r"\bis-read\b"))
    [req] = http_receiver.wait_for(1)
    assert req.path == "/hooks/actions"
    assert req.headers["X-Notifier-Signature"] == sign(
        hook["secret"], req.headers["X-Notifier-Timestamp"], req.body
    )
    body = req.json()
    assert body["event"] == "notification.action"
    assert (body["data"]["notification_id"], body["data"]["action_id"]) == (nid, "approve")
    row.get_by_role("button", name="Details").click()  # a link action: recorded, then followed
    expect(page).to_have_url(re.compile(r"/preferences$"))
    assert alice.errors == []


def test_desktop_alert_shows_once_for_a_hidden_tab(sessions, ui, live_server) -> None:
    alice = sessions("alice")
    alice.context.grant_permissions(["notifications"], origin=live_server.url)
    page = alice.page("/")
    ui.wait_live(page)
    switch = page.get_by_role("switch", name="Desktop alerts")
    switch.check()
    expect(switch).to_be_checked()
    expect(page.locator("#desktop-alerts-note")).to_contain_text("On")
    ui.screenshot(page, "inbox-desktop-alerts", dark=True)

    hidden = alice.context.new_page()
    hidden.add_init_script(HIDDEN_SPY)
    hidden.goto(live_server.url + "/preferences")  # any signed-in page; the switch is remembered
    ui.wait_live(hidden)
    ui.send("alice", title="Deploy finished", body="Build 812 is live.")
    expect(hidden.locator("#toasts .toast", has_text="Deploy finished")).to_have_count(1)
    hidden.wait_for_function("window.__alerts.length >= 1")
    ui.send("alice", title="Second one")  # the next event: the first is not alerted again
    expect(hidden.locator("#toasts .toast", has_text="Second one")).to_have_count(1)
    alerts = hidden.evaluate("window.__alerts")
    assert [a["title"] for a in alerts] == ["Deploy finished", "Second one"]
    assert alerts[0]["options"]["body"] == "Build 812 is live."
    assert re.fullmatch(r"\d+", alerts[0]["options"]["tag"])
    # A click focuses the tab and opens the item (this page has no list: the inbox, at it).
    hidden.evaluate("window.__shown[0].onclick()")
    expect(hidden).to_have_url(re.compile(rf"/#n-{alerts[0]['options']['tag']}$"))
    expect(item(hidden, "Deploy finished")).to_be_visible()
    assert alice.errors == []


def test_no_desktop_alert_while_the_switch_is_off(sessions, ui, live_server) -> None:
    alice = sessions("alice")
    alice.context.grant_permissions(["notifications"], origin=live_server.url)
    page = alice.context.new_page()
    page.add_init_script(HIDDEN_SPY)
    page.goto(live_server.url + "/")
    ui.wait_live(page)
    ui.send("alice", title="Quiet one")
    expect(item(page, "Quiet one")).to_have_count(1)
    assert page.evaluate("window.__alerts") == []


def test_unsubscribe_link_from_a_received_email_in_the_browser(
    browser, ui, live_server, smtp_server: SmtpServer
) -> None:
    ui.send("alice", type="billing", title="Invoice ready", channels=["email"])
    [mail] = smtp_server.wait_for(1)
    header = mail.message["List-Unsubscribe"]
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<([^>]+)>", header).group(1)  # type: ignore[union-attr]
    assert link.startswith(live_server.url + "/unsubscribe/")
    assert link in mail.message.get_body(("plain",)).get_content()

    context = browser.new_context()  # not signed in: the link is the credential
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Unsubscribe from these emails?")).to_be_visible()
    ui.screenshot(page, "unsubscribe", dark=True)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    context.close()

    result = ui.send("alice", type="billing", title="Next invoice", channels=["email"])
    assert result["result"]["errors"]["email"] == "disabled by preferences"  # type: ignore[index]


def test_why_panel_and_its_switch(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    ui.send("alice", type="deploy", title="Deploy finished")
    row = item(page, "Deploy finished")
    row.locator("details.item-menu > summary").click()
    row.get_by_role("link", name="Why am I seeing this?").click()
    panel = row.locator(".why-panel")
    expect(panel).to_contain_text("In-app notifications were on (the default).")
    expect(panel).to_contain_text("In-app for deploy was on (the default).")
    ui.screenshot(page, "inbox-why", dark=True)
    panel.get_by_label("In-app for deploy").uncheck()
    expect(panel.get_by_role("status")).to_contain_text("Saved.")
    result = ui.send("alice", type="deploy", title="Another deploy")
    assert result["result"]["errors"]["in_app"] == "disabled by preferences"  # type: ignore[index]
    assert alice.errors == []


def test_time_to_screen_reaches_metrics_and_the_dashboard(sessions, ui, live_server) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    ui.send("alice", title="Measured one")
    expect(item(page, "Measured one")).to_have_count(1)
    page.goto(live_server.url + "/preferences")  # pagehide flushes the batch by beacon

    admin = sessions("admin")
    dash = admin.page("/admin")
    expect(dash.locator("#tts-count")).to_have_text("1", timeout=20_000)
    expect(dash.locator("#tts-p50")).to_have_text(re.compile(r"^\d+ ms$"))
    ui.screenshot(dash, "admin-time-to-screen", dark=True)
    status, _ = 0, None
    import urllib.request

    with urllib.request.urlopen(live_server.url + "/metrics", timeout=10) as r:
        status, text = r.status, r.read().decode()
    assert status == 200
    assert re.search(r'notifier_time_to_screen_seconds_count\{tenant="\d+"\} 1\.0', text)
