"""The admin screens in Chromium: users, API tokens, webhooks & chat, scheduled sends.

Each page is checked with axe-core (no violations) and photographed at 1280 and 375 px,
light and dark, into test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.fixtures_live import LiveServer, http_json
from tests.fixtures_receivers import HttpReceiver

pytestmark = pytest.mark.browser
# As tests/fixtures_browser.py has them (a plugin module: not imported, pytest rewrites it).
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """The demo server, allowed to post to the loopback receiver (as in development)."""
    return live_server_factory(seed=True, env={"NOTIFIER_WEBHOOK_ALLOW_PRIVATE": "1"})


def accessible(page: Page) -> None:
    """Fail with axe-core's report when the page has any accessibility violation."""
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def check_both_schemes(page: Page) -> None:
    """Run axe in light and in dark colours (contrast differs)."""
    accessible(page)
    page.emulate_media(color_scheme="dark")
    accessible(page)
    page.emulate_media(color_scheme="light")


def screenshots(ui, page: Page, name: str) -> None:
    """Light and dark at 1280 px and 375 px (the shared helper has no dark phone shot)."""
    ui.screenshot(page, name, dark=True)
    original = page.viewport_size
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-dark-phone.png"), full_page=True, caret="initial")
    page.emulate_media(color_scheme="light")
    if original:
        page.set_viewport_size(original)


def test_users_create_deactivate_reactivate(sessions, ui) -> None:
    bob_token = ui.server.flask("create-token", "bob@example.com").strip()
    bob_h = {"Authorization": f"Bearer {bob_token}"}
    admin = sessions("admin")
    page = admin.page("/admin")
    page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    check_both_schemes(page)

    page.get_by_label("Email").fill("dana@example.com")
    page.get_by_label("Password", exact=True).fill("dana-demo-pass")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status").filter(has_text="Created dana@example.com.")).to_be_visible()
    row = page.locator("tr", has_text="dana@example.com")
    expect(row).to_contain_text("Active")

    bob = page.locator("tr", has_text="bob@example.com")
    bob.get_by_role("button", name="Deactivate bob@example.com").click()
    expect(bob).to_contain_text("Deactivated")  # swapped in place by htmx
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    assert http_json("GET", ui.server.url + "/api/v1/me", None, bob_h)[0] == 401
    screenshots(ui, page, "admin-users")
    bob.get_by_role("button", name="Reactivate bob@example.com").click()
    expect(bob).to_contain_text("Active")
    assert http_json("GET", ui.server.url + "/api/v1/me", None, bob_h)[0] == 200
    assert admin.errors == [], admin.errors


def test_tokens_shown_once_and_revoked(sessions, ui) -> None:
    admin = sessions("admin")
    page = admin.page("/admin/tokens")
    check_both_schemes(page)
    page.get_by_label("For").select_option(label="alice@example.com")
    page.get_by_label("Name").fill("ci-deploys")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("The token (shown once; copy it now)")
    expect(secret).to_have_value(re.compile(r"^ntf_"))
    token = secret.input_value()
    status, me = http_json(
        "GET", ui.server.url + "/api/v1/me", None, {"Authorization": f"Bearer {token}"}
    )
    assert status == 200 and me["email"] == "alice@example.com"
    accessible(page)
    screenshots(ui, page, "admin-tokens")

    page.goto(ui.server.url + "/admin/tokens")
    assert token not in page.content()
    row = page.locator("tr", has_text="ci-deploys")
    row.get_by_role("button", name=re.compile("Revoke token ci-deploys")).click()
    expect(row).to_contain_text("Revoked")
    status, _ = http_json(
        "GET", ui.server.url + "/api/v1/me", None, {"Authorization": f"Bearer {token}"}
    )
    assert status == 401
    assert admin.errors == [], admin.errors


def test_integration_send_test_shows_the_delivery(
    sessions, ui, http_receiver: HttpReceiver
) -> None:
    admin = sessions("admin")
    page = admin.page("/admin/integrations")
    check_both_schemes(page)
    url = http_receiver.url("/services/T0/B0/secret-tail-9f3k")
    page.get_by_label("Service").select_option("slack")
    page.get_by_label("Incoming webhook URL").fill(url)
    page.get_by_label("Types", exact=True).first.fill("deploy, test")
    page.get_by_role("button", name="Add integration").click()
    expect(page.get_by_role("status").filter(has_text="integration")).to_be_visible()
    assert "secret-tail" not in page.content()

    page.get_by_role("button", name=re.compile(r"Send a test to slack")).click()
    # The worker sends it; the deliveries panel polls and shows the outcome without a reload.
    expect(page.locator(".deliveries .pill-sent")).to_have_count(1, timeout=30_000)
    [req] = http_receiver.wait_for(1)
    blocks = req.json()["attachments"][0]["blocks"]
    assert blocks[0]["text"]["text"] == "Test message from Notifier"

    http_receiver.script(500, 500, 500, 500, 500, 500, 500, 500)
    page.get_by_label("URL", exact=True).fill(http_receiver.url("/wh"))
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_label("Its signing secret (shown once)")).to_have_value(re.compile("whsec_"))
    page.goto(ui.server.url + "/admin/integrations")
    page.get_by_role("button", name=re.compile(r"Send a test to http.*wh$")).click()
    hook = page.locator("article.endpoint", has_text="/wh")
    expect(hook.locator(".deliveries .error-text")).to_contain_text(
        "webhook endpoint answered 500", timeout=30_000
    )
    expect(hook.locator(".deliveries .pill-pending")).to_be_visible()  # to be retried
    accessible(page)
    screenshots(ui, page, "admin-integrations")
    assert admin.errors == [], admin.errors


def test_scheduled_list_and_cancel(sessions, ui) -> None:
    when = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for title in ("Quarterly report", "Maintenance window"):
        status, body = http_json(
            "POST",
            ui.server.url + "/api/v1/notifications",
            {"email": "alice@example.com", "type": "digest", "title": title, "send_at": when},
            {"Authorization": f"Bearer {ui.token}"},
        )
        assert status == 202, body
    admin = sessions("admin")
    page = admin.page("/admin/scheduled")
    expect(page.locator("tr", has_text="Quarterly report")).to_be_visible()
    check_both_schemes(page)
    screenshots(ui, page, "admin-scheduled")

    row = page.locator("tr", has_text="Maintenance window")
    row.get_by_role("button", name=re.compile("Cancel")).click()
    expect(page.get_by_role("status").filter(has_text="cancelled")).to_be_visible()
    expect(page.locator("tr", has_text="Maintenance window")).to_have_count(0)
    status, listed = http_json(
        "GET", ui.server.url + "/api/v1/scheduled", None, {"Authorization": f"Bearer {ui.token}"}
    )
    assert status == 200 and [i["title"] for i in listed["items"]] == ["Quarterly report"]
    assert admin.errors == [], admin.errors
