"""The inbox's states, search and groups in Chromium: archive, snooze, search, groups, seen."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures_browser import DEMO, TIMEOUT_MS
from tests.fixtures_live import http_json

pytestmark = pytest.mark.browser

BOB = "Bob commented on your report"


def item(page: Page, title: str):
    """Return the list item whose title is ``title`` (exact)."""
    return page.locator("#notification-list > .item").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    )


def control(page: Page, title: str, name: str):
    """Hover the item (its toolbar appears) and return its control called ``name``."""
    row = item(page, title)
    row.hover()
    return row.get_by_role("button", name=f"{name}: {title}", exact=True)


def menu(page: Page, title: str, name: str):
    """Hover the item and return the summary that opens its menu called ``name``."""
    row = item(page, title)
    row.hover()
    return row.locator("summary", has_text=name)


def alice_api(ui, method: str, path: str, body: object = None) -> tuple[int, object]:
    """Call the API as alice (a token minted once per test)."""
    if not hasattr(ui, "alice_token"):
        ui.alice_token = ui.server.flask("create-token", DEMO["alice"][0]).strip()
    return http_json(
        method, ui.server.url + path, body, {"Authorization": f"Bearer {ui.alice_token}"}
    )


def test_archive_in_one_tab_disappears_in_the_other(sessions, ui) -> None:
    alice = sessions("alice")
    tab_a, tab_b = alice.page("/"), alice.page("/")
    archived_tab = alice.page("/?status=archived")
    for tab in (tab_a, tab_b, archived_tab):
        ui.wait_live(tab)
    expect(archived_tab.locator("#notification-list > .item")).to_have_count(0)
    control(tab_a, BOB, "Archive").click()
    expect(item(tab_a, BOB)).to_have_count(0)
    expect(item(tab_b, BOB)).to_have_count(0)
    expect(item(archived_tab, BOB)).to_have_count(1)  # it joins the Archived tab live
    expect(tab_b).to_have_title("(3) Notifications")  # archived items leave every count
    control(archived_tab, BOB, "Move to inbox").click()
    expect(item(archived_tab, BOB)).to_have_count(0)
    expect(item(tab_b, BOB)).to_have_count(1)  # back, in its place (not only after a reload)
    expect(tab_b.locator("#notification-list > .item").nth(3)).to_contain_text(BOB)
    expect(tab_a).to_have_title("(4) Notifications")
    assert alice.errors == []


def test_snooze_hides_the_item_then_it_returns_unread_and_announced(sessions, ui) -> None:
    alice = sessions("alice")
    page, other = alice.page("/"), alice.page("/")
    for tab in (page, other):
        ui.wait_live(tab)
    # From the page's menu: gone at once, in both tabs.
    menu(page, "You were mentioned in #general", "Snooze").click()
    item(page, "You were mentioned in #general").get_by_role("button", name="For 1 hour").click()
    expect(item(page, "You were mentioned in #general")).to_have_count(0)
    expect(item(other, "You were mentioned in #general")).to_have_count(0)
    expect(page.locator("#inbox-status")).to_contain_text("Snoozed until")
    # A short snooze through the API (the page offers 1 h at least): it comes back by itself.
    status, items = alice_api(ui, "GET", "/api/v1/notifications?q=bob")
    nid = items["items"][0]["id"]  # type: ignore[index]
    alice_api(ui, "POST", f"/api/v1/notifications/{nid}/read")
    expect(item(other, BOB)).to_have_class(re.compile(r"\bis-read\b"))
    until = (datetime.now(UTC) + timedelta(seconds=2)).isoformat(timespec="seconds")
    status, body = alice_api(ui, "POST", f"/api/v1/notifications/{nid}/snooze", {"until": until})
    assert status == 200, body
    expect(item(other, BOB)).to_have_count(0)
    expect(other).to_have_title("(2) Notifications")
    # The scheduler loop wakes it (every NOTIFIER_SCHEDULER_INTERVAL, 5 s): unread again, at
    # the top, with a toast.
    expect(item(other, BOB)).to_have_class(re.compile(r"\bis-unread\b"), timeout=TIMEOUT_MS)
    expect(other.locator("#notification-list > .item").first).to_contain_text(BOB)
    expect(other.locator("#toasts .toast", has_text=BOB)).to_have_count(1)
    expect(item(page, BOB)).to_have_count(1)
    expect(page).to_have_title("(3) Notifications")
    assert alice.errors == []


def test_search_narrows_the_list_and_the_back_button_restores_it(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    ui.send("alice", title="Deploy finished", body="Build 812 is live")
    ui.send("alice", title="Lunch", body="Pizza, deployed to the kitchen")
    expect(page.locator("#notification-list > .item")).to_have_count(6)
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)  # filters apply on change
    page.get_by_label("Search").fill("DEPLOY")
    expect(page.locator("#notification-list > .item")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"[?&]q=DEPLOY"))
    page.get_by_label("Search").fill("deploy build")
    expect(page.locator("#notification-list > .item")).to_have_count(1)
    expect(item(page, "Deploy finished")).to_have_count(1)
    ui.send("alice", title="Unrelated while searching")  # filtered: neither a row nor a toast
    ui.send("alice", title="Deploy rolled back", body="build 813")
    expect(item(page, "Deploy rolled back")).to_have_count(1)
    expect(page.locator("#toasts .toast", has_text="Deploy rolled back")).to_have_count(1)
    expect(page.locator("#toasts .toast", has_text="Unrelated while searching")).to_have_count(0)
    expect(item(page, "Unrelated while searching")).to_have_count(0)
    page.locator("label[for=f-unread]").click()  # the tab
    expect(page).to_have_url(re.compile(r"status=unread"))
    page.go_back()
    expect(page.get_by_label("Search")).to_have_value("deploy build")
    expect(page.locator("#notification-list > .item")).to_have_count(2)
    page.goto(ui.server.url + "/")
    expect(page.locator("#notification-list > .item")).to_have_count(8)
    # A day range: a live item outside it is neither a row nor a toast, one inside is both.
    page.goto(ui.server.url + "/?until=2020-01-31")
    ui.wait_live(page)
    expect(page.get_by_label("Until")).to_have_value("2020-01-31")
    expect(page.locator("#notification-list > .item")).to_have_count(0)
    ui.send("alice", title="After the range")
    page.goto(ui.server.url + "/?since=2020-01-01")
    ui.wait_live(page)
    expect(page.locator("#notification-list > .item")).to_have_count(9)
    ui.send("alice", title="Inside the range")
    expect(item(page, "Inside the range")).to_have_count(1)
    page.get_by_label("Until").fill("2020-01-31")  # applies on change, like every filter
    expect(page).to_have_url(re.compile(r"until=2020-01-31"))
    expect(page.locator("#notification-list > .item")).to_have_count(0)
    before = page.title()
    ui.send("alice", title="Outside the range")
    expect(page).not_to_have_title(before)  # its event was applied: the unread count moved
    expect(page.locator("#toasts .toast", has_text="Outside the range")).to_have_count(0)
    expect(item(page, "Outside the range")).to_have_count(0)
    assert alice.errors == []


def test_a_group_collapses_expands_and_reads_together(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    for who in ("Dana", "Eve", "Bob"):
        ui.send("alice", title=f"{who} commented on Report 7", group_key="report-7")
    # The live list re-groups: one row for the three, the newest on top.
    row = item(page, "Bob commented on Report 7")
    expect(row.get_by_role("button", name="and 2 more")).to_be_visible()
    expect(item(page, "Dana commented on Report 7")).to_have_count(0)
    expect(page.locator("#notification-list > .item")).to_have_count(5)
    # The rows were shown, so each becomes seen (an update per row): a member of the collapsed
    # group must not come back as a row of its own.
    expect(page.locator("#notification-list > .item.is-unseen")).to_have_count(0)
    expect(item(page, "Dana commented on Report 7")).to_have_count(0)
    ui.screenshot(page, "inbox-group", dark=True)
    row.get_by_role("button", name="and 2 more").click()
    members = row.locator(".group-members .item")
    expect(members).to_have_count(2)
    expect(members.first).to_contain_text("Eve commented on Report 7")
    expect(row.get_by_role("button", name="and 2 more")).to_have_attribute("aria-expanded", "true")
    expect(page).to_have_title("(7) Notifications")
    control(page, "Bob commented on Report 7", "Mark read").click()
    expect(page).to_have_title("(4) Notifications")  # the whole group was read
    page.reload()
    expect(page).to_have_title("(4) Notifications")
    row.get_by_role("button", name="and 2 more").click()
    expect(row.locator(".group-members .item.is-read")).to_have_count(2)
    assert alice.errors == []


def test_shown_items_are_reported_seen_and_toasts_stack_at_most_three(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    expect(page.locator("#notification-list > .item.is-unseen")).to_have_count(0)
    status, stats = alice_api(ui, "GET", "/api/v1/notifications/stats")
    assert stats == {"total": 4, "unread": 4, "read": 0, "unseen": 0, "archived": 0}
    for i in range(5):
        ui.send("alice", title=f"Burst {i}")
    expect(item(page, "Burst 4")).to_have_count(1)
    expect(page.locator("#toasts .toast")).to_have_count(3)
    expect(page.locator("#notification-list > .item.is-unseen")).to_have_count(0)
    status, stats = alice_api(ui, "GET", "/api/v1/notifications/stats")
    assert stats["unseen"] == 0 and stats["unread"] == 9
    ui.screenshot(page, "inbox-toasts", dark=True)
    # At 1280 px the toasts have a rail of their own: they cover no part of the list.
    toasts = page.locator("#toasts").bounding_box()
    listed = page.locator("#notification-list").bounding_box()
    assert toasts and listed and listed["x"] + listed["width"] <= toasts["x"]
    assert alice.errors == []


def test_compact_density_fits_more_rows_and_is_remembered(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    for i in range(8):
        ui.send("alice", title=f"Row {i}", body="A line of text that says what happened.")
    expect(page.locator("#notification-list > .item")).to_have_count(12)
    comfortable = item(page, "Row 3").bounding_box()
    ui.screenshot(page, "inbox-comfortable", dark=True)
    page.get_by_role("button", name="Compact view").click()
    expect(page.get_by_role("button", name="Compact view")).to_have_attribute(
        "aria-pressed", "true"
    )
    compact = item(page, "Row 3").bounding_box()
    assert comfortable and compact and compact["height"] < comfortable["height"] * 0.75
    assert compact["height"] <= 60
    page.reload()
    expect(page.locator("#inbox-list.density-compact")).to_have_count(1)
    menu(page, "Row 3", "Snooze").click()
    ui.screenshot(page, "inbox-compact-menu", dark=True)
    assert alice.errors == []
