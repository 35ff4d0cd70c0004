"""A user switches the pages to German in a real browser: the form, the live list, the scripts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures_live import http_json

pytestmark = pytest.mark.browser


def test_switching_to_german_reloads_the_page_and_live_items_arrive_in_german(
    sessions, ui, live_server
) -> None:
    token = live_server.flask("create-token", "bob@example.com").strip()
    try:
        bob = sessions("bob")
        page = bob.page("/preferences")
        ui.wait_live(page)
        page.get_by_label("Language").select_option("de")
        page.get_by_role("button", name="Save preferences").click()
        # The whole page comes back in German (nav and <html lang> too), with the confirmation.
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.get_by_role("button", name="Einstellungen speichern")).to_be_visible()
        expect(page.get_by_text("Einstellungen gespeichert.")).to_be_visible()
        expect(page.get_by_label("Sprache")).to_have_value("de")

        inbox = bob.page("/")
        ui.wait_live(inbox)
        expect(inbox.get_by_role("link", name="Posteingang")).to_be_visible()
        ui.send("bob", title="Build 812 green")
        item = inbox.locator("#notification-list .item").filter(has_text="Build 812 green")
        # Rendered by the page stream in German; the time written by the script in German too.
        mark = item.get_by_role("button", name=re.compile(r"^Als gelesen markieren"))
        expect(mark).to_be_visible()
        expect(item.locator("time")).to_have_text("gerade eben")
        item.locator(".item-select").check()
        expect(inbox.locator("#selected-count")).to_have_text("1 ausgewählt")
        ui.screenshot(inbox, "inbox-german")
        assert bob.errors == []
    finally:  # the live server is shared: bob reads English again for the other tests
        status, _ = http_json(
            "PATCH",
            live_server.url + "/api/v1/me",
            {"locale": "en"},
            {"Authorization": f"Bearer {token}"},
        )
        assert status == 200
