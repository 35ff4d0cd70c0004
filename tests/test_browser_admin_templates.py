"""The template editor in Chromium: the preview follows each keystroke, errors sit by their
field, the email frame shows the branded mail; axe finds no violation."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_editor_previews_live_and_saves(sessions, ui) -> None:
    admin = sessions("admin")
    page = admin.page("/admin/templates")
    page.get_by_label("Brand colour").fill("#0a7d45")
    page.get_by_role("button", name="Save branding").click()
    expect(page.get_by_role("status").filter(has_text="Email branding saved.")).to_be_visible()
    page.get_by_role("link", name="New template").click()

    page.get_by_label("Type", exact=True).fill("order")
    page.get_by_label("Title", exact=True).fill("Order {{ data.order.id }} shipped")
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text("Order 42 shipped")  # from the default sample data

    page.get_by_label("Body", exact=True).fill("Hi {{ data.name }")
    expect(page.locator("#body-error")).to_contain_text("line 1: unexpected '}'")
    page.get_by_label("Body", exact=True).fill("Hi {{ user.email }}")
    expect(page.locator("#body-error")).to_be_empty()
    expect(preview).to_contain_text("Hi admin@example.com")
    accessible(page)

    page.get_by_label("Channel").select_option("email")
    page.get_by_label("Email subject").fill("Your order {{ data.order.id }}")
    page.get_by_label("Email HTML").fill(
        '<p>Track <a href="https://shop.example/{{ data.order.id }}">it</a></p>'
    )
    expect(preview).to_contain_text("Track it (https://shop.example/42)")
    frame = page.frame_locator("iframe[name=email-frame]")
    expect(frame.locator("a", has_text="it")).to_have_attribute("href", "https://shop.example/42")
    expect(frame.locator("div").first).to_have_attribute(
        "style",
        "border-top: 4px solid #0a7d45; padding: .75rem 0; margin-bottom: 1rem; "
        "color: #57606a; font-size: .875rem",
    )
    page.screenshot(path=str(ARTIFACTS / "admin-template-edit.png"), full_page=True)
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("status").filter(has_text="Template saved.")).to_be_visible()
    expect(page.locator("tr", has_text="order")).to_contain_text("email")
    accessible(page)
    page.screenshot(path=str(ARTIFACTS / "admin-templates.png"), full_page=True)
    assert admin.errors == [], admin.errors
