"""The notification center in a real browser: live arrival, cross-tab sync, bulk, resume, XSS."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


def item(page: Page, title: str):
    """Return the list item whose title is ``title`` (exact)."""
    return page.locator(".item").filter(has=page.get_by_role("heading", name=title, exact=True))


def test_new_notification_arrives_live_with_badge_title_and_toast(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    expect(page).to_have_title("(4) Notifications")  # the four demo notifications
    ui.screenshot(page, "inbox")

    ui.send("alice", title="Deploy finished", body="Build 812 is live.", priority="high")

    expect(page.locator(".item").first).to_contain_text("Deploy finished")
    expect(page.locator("#unread-badge")).to_contain_text("5")
    expect(page).to_have_title("(5) Notifications")
    toast = page.locator("#toasts .toast")
    expect(toast).to_contain_text("Deploy finished")
    expect(toast).to_have_class(re.compile(r"prio-high"))
    ui.screenshot(page, "inbox-live", dark=True)
    assert alice.errors == []


def test_urgent_toast_stays_until_dismissed(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/preferences")  # the bell and toasts work on every page
    ui.wait_live(page)
    ui.send("alice", title="Calm one", priority="low")
    ui.send("alice", title="Server on fire", priority="urgent")
    urgent = page.locator(".toast[role=alert]", has_text="Server on fire")
    expect(urgent).to_be_visible()
    expect(page.locator(".toast", has_text="Calm one")).to_have_count(0, timeout=15_000)
    expect(urgent).to_be_visible()  # the low one timed out; the urgent one is still there
    urgent.get_by_role("button", name=re.compile("Dismiss")).click()
    expect(urgent).to_have_count(0)
    expect(page).to_have_title("(6) Preferences")


def test_marking_read_in_one_tab_updates_the_other(sessions, ui) -> None:
    alice = sessions("alice")
    tab_a, tab_b = alice.page("/"), alice.page("/")
    for tab in (tab_a, tab_b):
        ui.wait_live(tab)
    title = "Bob commented on your report"
    item(tab_b, title).get_by_role("checkbox").check()  # tab B is picking items for a bulk action
    item(tab_a, title).get_by_role("button", name=re.compile("^Mark read")).click()
    expect(item(tab_a, title)).to_have_class(re.compile(r"\bis-read\b"))
    expect(item(tab_b, title)).to_have_class(re.compile(r"\bis-read\b"))
    expect(item(tab_b, title).get_by_role("checkbox")).to_be_checked()  # still picked
    expect(tab_b).to_have_title("(3) Notifications")
    item(tab_b, title).get_by_role("button", name=re.compile("^Mark unread")).click()
    expect(item(tab_a, title)).to_have_class(re.compile(r"\bis-unread\b"))
    expect(tab_a).to_have_title("(4) Notifications")
    assert alice.errors == []


def test_bulk_delete(sessions) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    other = alice.page("/")
    doomed = ["Maintenance tonight at 22:00 UTC", "You were mentioned in #general"]
    delete = page.get_by_role("button", name="Delete", exact=True)
    expect(delete).to_be_disabled()  # nothing selected yet
    for title in doomed:
        item(page, title).get_by_role("checkbox").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    delete.click()
    for title in doomed:
        expect(item(page, title)).to_have_count(0)
        expect(item(other, title)).to_have_count(0)
    expect(page.locator(".item")).to_have_count(2)
    expect(page.locator("#inbox-status")).to_have_text("2 notifications deleted.")
    page.reload()
    expect(page.locator(".item")).to_have_count(2)
    assert alice.errors == []


def test_restart_while_open_shows_missed_notifications_exactly_once(
    sessions, ui, live_server
) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    ui.send("alice", title="Before the crash")
    expect(item(page, "Before the crash")).to_have_count(1)

    live_server.kill()
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#conn-label")).to_contain_text("Reconnecting")
    expect(page.get_by_role("button", name="Retry now")).to_be_visible()
    live_server.flask(
        "send", "--to", "alice@example.com", "--type", "system", "--title", "Sent while down"
    )
    live_server.start()
    # Sent after the restart, most likely before the page has reconnected.
    ui.send("alice", title="Sent right after the restart")

    ui.wait_live(page)
    ui.send("alice", title="Sent once reconnected")
    for title in ("Sent while down", "Sent right after the restart", "Sent once reconnected"):
        expect(item(page, title)).to_have_count(1)
    expect(item(page, "Before the crash")).to_have_count(1)
    expect(page.locator(".item")).to_have_count(8)  # 4 demo + 4 sent: nothing doubled
    expect(page).to_have_title("(8) Notifications")
    page.reload()
    expect(page.locator(".item")).to_have_count(8)
    assert alice.errors == []


def test_xss_title_stays_text_everywhere(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ui.wait_live(page)
    ui.send("alice", title=XSS, body=XSS, priority="urgent")
    expect(item(page, XSS)).to_have_count(1)  # the list, from the SSE fragment
    expect(page.locator("#toasts .toast")).to_contain_text(XSS)
    page.reload()
    expect(item(page, XSS)).to_have_count(1)  # the list, server-rendered
    expect(page.locator("img[src=x]")).to_have_count(0)
    assert dialogs == []
    assert alice.errors == []


def test_reset_rerenders_the_list_and_stays_live(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    page.evaluate("document.getElementById('inbox-list').dataset.stale = 'yes'")
    # Resume from a cursor the server never issued (a restored database, say): it sends `reset`.
    page.evaluate("() => { const s = window.Notifier.source(); s.cursor = 1e9; s.reconnect(); }")
    expect(page.locator("#inbox-list[data-stale]")).to_have_count(0)  # the list was re-fetched
    ui.wait_live(page)
    ui.send("alice", title="After the reset")
    expect(item(page, "After the reset")).to_have_count(1)
    expect(page.locator(".item")).to_have_count(5)
    assert alice.errors == []


def test_keyboard_only_reading_and_deleting_keeps_focus(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/")
    ui.wait_live(page)
    first = item(page, "New sign-in from Firefox on Linux")
    first.get_by_role("button", name=re.compile("^Mark read")).focus()
    page.keyboard.press("Enter")
    toggle = first.get_by_role("button", name=re.compile("^Mark unread"))
    expect(toggle).to_be_focused()  # the item was swapped; focus came back to its button
    page.keyboard.press("Tab")  # to Archive
    expect(first.get_by_role("button", name=re.compile("^Archive"))).to_be_focused()
    page.keyboard.press("Tab")  # to the Snooze menu
    page.keyboard.press("Tab")  # to the More menu, which holds Delete
    expect(first.locator("summary", has_text="More")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(first.get_by_role("button", name=re.compile("^Delete"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(first).to_have_count(0)
    next_box = item(page, "Maintenance tonight at 22:00 UTC").get_by_role("checkbox")
    expect(next_box).to_be_focused()
    assert alice.errors == []
