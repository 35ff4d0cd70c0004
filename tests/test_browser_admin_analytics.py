"""The analytics page in Chromium: charts drawn, no CSP or script errors, axe-clean both ways."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.fixtures_live import http_json
from tests.sse_client import bearer

pytestmark = pytest.mark.browser


def accessible(page: Page) -> None:
    """Fail with axe-core's report when the page has any accessibility violation."""
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_the_page_draws_its_charts_accessibly(sessions, ui) -> None:
    ids = [
        ui.send(to="alice", title=f"deploy {i}", type="deploy")["notification"]["id"]
        for i in range(3)
    ]
    alice = ui.server.flask("create-token", "alice@example.com").strip()
    status, _ = http_json(
        "POST", ui.server.url + f"/api/v1/notifications/{ids[0]}/read", headers=bearer(alice)
    )
    assert status == 200
    admin = sessions("admin")
    page = admin.page("/admin/analytics?type=deploy")
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name="Delivery, read and click rate per day")
    expect(chart).to_be_visible()
    expect(page.locator("#chart-rates circle")).not_to_have_count(0)
    page.get_by_text("The numbers behind it").first.click()
    caption = page.locator("caption", has_text="Delivery, read and click rate per day")
    expect(caption).to_be_visible()
    by_type = page.locator("table.outcomes").first
    expect(by_type.locator("tbody tr").first).to_contain_text("deploy")
    accessible(page)
    page.emulate_media(color_scheme="dark")
    accessible(page)
    ui.screenshot(page, "admin-analytics", dark=True)
    assert admin.errors == []
