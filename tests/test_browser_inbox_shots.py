"""Screenshots of issue 11's pages at 1280 and 375 px, light and dark, with layout checks.

Each state is saved as test-artifacts/shot-<name>-<width>-<scheme>.png (git-ignored) to be
looked at; the checks catch what a person would see at once: a page wider than the phone
(sideways scrolling), a title squeezed into a narrow column, and toasts covering the list's
controls.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures_browser import ARTIFACTS, DESKTOP, PHONE

pytestmark = pytest.mark.browser

SIZES = (("1280", DESKTOP), ("375", PHONE))
SCHEMES = ("light", "dark")


def item(page: Page, title: str):
    """Return the top-level list item whose title is ``title``."""
    return page.locator("#notification-list > .item").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    )


def shoot(page: Page, name: str, problems: list[str]) -> None:
    """Save the page at both widths in both schemes; note any sideways overflow."""
    ARTIFACTS.mkdir(exist_ok=True)
    expect(page.locator(".htmx-added, .htmx-settling")).to_have_count(0)
    for width, size in SIZES:
        page.set_viewport_size(size)
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            page.evaluate("window.scrollTo(0, 0)")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                problems.append(f"{name} at {width} px ({scheme}): {overflow} px too wide")
            squeezed = page.evaluate(
                """[...document.querySelectorAll('.item-main')]
                   .filter(e => e.offsetParent && e.getBoundingClientRect().width < 150)
                   .map(e => e.querySelector('.item-title').textContent.trim().slice(0, 30))"""
            )
            if squeezed and scheme == "light":
                problems.append(f"{name} at {width} px: item text squeezed: {squeezed}")
            page.screenshot(
                path=str(ARTIFACTS / f"shot-{name}-{width}-{scheme}.png"),
                full_page=True,
                caret="initial",
            )
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="light")


def overlaps(page: Page, over: str, under: str) -> bool:
    """Say whether any visible box matching ``over`` intersects one matching ``under``."""
    return bool(
        page.evaluate(
            """([over, under]) => {
              const boxes = sel => [...document.querySelectorAll(sel)]
                .map(e => e.getBoundingClientRect()).filter(r => r.width && r.height);
              return boxes(over).some(a => boxes(under).some(b =>
                a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom));
            }""",
            [over, under],
        )
    )


def test_inbox_states_at_both_widths_in_both_schemes(sessions, ui) -> None:
    problems: list[str] = []
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    ui.send("alice", title="Deploy finished", body="Build 812 is live.", tags=["ops"])
    ui.send(
        "alice",
        title="Expense #7 needs approval",
        body="Dana asks for 120 EUR for the train to the customer.",
        priority="high",
        actions=[
            {"id": "approve", "label": "Approve", "callback": True},
            {"id": "details", "label": "Details", "url": "/preferences", "style": "secondary"},
        ],
    )
    for who in ("Dana", "Eve", "Bob"):
        ui.send("alice", title=f"{who} commented on Report 7", group_key="report-7")
    expect(item(page, "Bob commented on Report 7")).to_have_count(1)
    shoot(page, "inbox", problems)

    page.get_by_role("button", name="Compact view").click()
    expect(page.locator("#inbox-list.density-compact")).to_have_count(1)
    shoot(page, "inbox-compact", problems)
    page.get_by_role("button", name="Compact view").click()
    expect(page.locator("#inbox-list.density-comfortable")).to_have_count(1)

    group = item(page, "Bob commented on Report 7")
    group.get_by_role("button", name="and 2 more").click()
    expect(group.locator(".group-members .item")).to_have_count(2)
    shoot(page, "inbox-group", problems)

    row = item(page, "Deploy finished")
    row.hover()
    row.locator("details.item-menu > summary").click()
    row.get_by_role("link", name="Why am I seeing this?").click()
    expect(row.locator(".why-panel")).to_contain_text("In-app")
    shoot(page, "inbox-why", problems)
    page.keyboard.press("Escape")

    for i in range(3):
        ui.send("alice", title=f"Urgent {i}: the build is red", priority="urgent")
    expect(page.locator("#toasts .toast")).to_have_count(3)
    shoot(page, "inbox-toasts", problems)
    for width, size in SIZES:
        page.set_viewport_size(size)
        page.evaluate("window.scrollTo(0, 0)")
        if overlaps(page, "#toasts .toast", "#notification-list .item-toolbar button"):
            problems.append(f"toasts cover item controls at {width} px")
    page.set_viewport_size(DESKTOP)
    assert problems == []
    assert alice.errors == []


def test_preferences_and_admin_at_both_widths_in_both_schemes(sessions, ui) -> None:
    problems: list[str] = []
    alice = sessions("alice")
    prefs = alice.page("/preferences")
    ui.wait_live(prefs)
    shoot(prefs, "preferences", problems)
    prefs.get_by_role("button", name="Save preferences").click()
    expect(prefs.get_by_role("status").filter(has_text="Preferences saved.")).to_be_visible()
    shoot(prefs, "preferences-saved", problems)

    admin = sessions("admin")
    dash = admin.page("/admin")
    ui.wait_live(dash)
    shoot(dash, "admin", problems)
    for path, name in (("/admin/users", "admin-users"), ("/admin/integrations", "admin-hooks")):
        page = admin.page(path)
        shoot(page, name, problems)
    assert problems == []
    assert alice.errors == [] and admin.errors == []
