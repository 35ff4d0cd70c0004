"""Login, preferences and the admin dashboard in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser


def test_login_page_and_wrong_password(browser: Browser, live_server, ui) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login"))  # anonymous visitors are sent to sign in
    ui.screenshot(page, "login")
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    page.get_by_label("Password").fill("alice-demo-pass")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    context.close()


def test_preferences_save_in_place_and_survive_reload(sessions, ui) -> None:
    alice = sessions("alice")
    page = alice.page("/preferences")
    ui.wait_live(page)
    ui.screenshot(page, "preferences", dark=True)
    mandatory = page.get_by_label("security: In-app")
    expect(mandatory).to_be_checked()
    expect(mandatory).to_be_disabled()

    # The demo server sets up no email, push or SMS: those boxes cannot be ticked.
    expect(page.get_by_label("comment: Email")).to_be_disabled()
    expect(page.locator("#ch_sms")).to_be_disabled()
    page.get_by_label("comment: In-app").uncheck()
    expect(page.get_by_label("Email digest for mention")).to_be_disabled()
    page.get_by_label("Hold email, push and SMS during quiet hours").check()
    page.get_by_label("From").fill("21:30")
    page.get_by_label("Until").fill("06:45")
    page.get_by_label("Time zone").select_option("Europe/Amsterdam")
    page.get_by_role("button", name="Save preferences").click()
    saved = page.get_by_role("status").filter(has_text="Preferences saved.")
    expect(saved).to_be_visible()
    expect(saved).to_be_in_viewport()  # beside the button, in its sticky bar
    ui.screenshot(page, "preferences-saved", dark=True)
    expect(page).to_have_url(re.compile(r"/preferences$"))  # saved in place, no navigation

    page.reload()
    expect(page.get_by_label("comment: In-app")).not_to_be_checked()
    expect(page.get_by_label("comment: Email")).to_be_checked()  # kept: it was never posted
    expect(page.get_by_label("Email digest for mention")).to_have_value("off")
    expect(page.get_by_label("Hold email, push and SMS during quiet hours")).to_be_checked()
    expect(page.get_by_label("From")).to_have_value("21:30")
    expect(page.get_by_label("Until")).to_have_value("06:45")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Amsterdam")
    expect(page.get_by_label("security: In-app")).to_be_checked()
    assert alice.errors == []


def test_preferences_show_messages_next_to_fields(sessions) -> None:
    alice = sessions("alice")
    page = alice.page("/preferences")
    page.get_by_label("Hold email, push and SMS during quiet hours").check()
    page.get_by_label("From").fill("")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator("#quiet_start-error")).to_have_text("Use a time like 22:00.")
    expect(page.get_by_label("From")).to_have_attribute("aria-invalid", "true")


def test_admin_dashboard_counts_a_second_browser(sessions, ui) -> None:
    admin = sessions("admin")
    page = admin.page("/admin")
    ui.wait_live(page)
    count = page.locator("#kpi-connections")
    # The admin's own page stream; the dashboard's live panel polls and holds no connection.
    expect(count).to_have_attribute("data-value", "1")
    ui.screenshot(page, "admin", dark=True)

    bob = sessions("bob")
    ui.wait_live(bob.page("/"))
    expect(count).to_have_attribute("data-value", "2")  # no reload: the live panel polls
    expect(page.locator(".top-users")).to_contain_text("bob@example.com")
    assert admin.errors == []


def test_signing_out_elsewhere_takes_the_dashboard_to_login(sessions) -> None:
    admin = sessions("admin")
    dashboard = admin.page("/admin")
    expect(dashboard.locator("#kpi-connections")).to_be_visible()
    other = admin.page("/")
    other.get_by_role("button", name="Sign out").click()
    expect(other).to_have_url(re.compile(r"/login"))
    # The live panel's next poll finds no session: the whole tab goes to sign in (no login
    # form swapped into the panel, no stream left running on the server).
    expect(dashboard).to_have_url(re.compile(r"/login\?next=(/|%2F)admin$"))
    expect(dashboard.get_by_role("button", name="Sign in")).to_be_visible()
    expect(dashboard.locator("#live-stats")).to_have_count(0)


def test_admin_send_with_preview_reaches_the_member(sessions, ui) -> None:
    bob = sessions("bob")
    bob_page = bob.page("/")
    ui.wait_live(bob_page)
    admin = sessions("admin")
    page = admin.page("/admin")
    page.get_by_label("Recipients").fill("bob@example.com")
    page.get_by_label("Title").fill("Quarterly report is out")
    page.get_by_label("Priority").select_option("high")
    expect(page.locator("#preview")).to_contain_text("Quarterly report is out")
    ui.screenshot(page, "admin-send")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Sent to 1 person.")).to_be_visible()
    expect(bob_page.locator(".item").first).to_contain_text("Quarterly report is out")
    assert admin.errors == [], admin.errors


def test_member_gets_404_on_admin(sessions) -> None:
    bob = sessions("bob")
    page = bob.page("/")
    response = page.goto(bob.server.url + "/admin")
    assert response is not None and response.status == 404
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
