"""The admin workflows screen in Chromium: edit the steps as a form, see the runs; axe-clean.

Photographed at 1280 and 375 px, light and dark, into test-artifacts/.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.fixtures_live import http_json
from tests.test_browser_admin_screens import check_both_schemes, screenshots

pytestmark = pytest.mark.browser


def test_workflow_form_edits_steps_and_shows_runs(sessions, ui) -> None:
    admin = sessions("admin")
    page = admin.page("/admin/workflows")
    check_both_schemes(page)
    page.get_by_label("Notification type").fill("comment")
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", name=re.compile("Workflow"))).to_contain_text("comment")
    rows = page.locator(".step-row")
    expect(rows).to_have_count(3)  # the starting point: in-app, wait 10 min unless read, email

    page.get_by_role("button", name="Add a step").click()
    expect(rows).to_have_count(4)
    page.locator("#channel-3").select_option("push")
    page.get_by_role("button", name="Move step 4 up").click()  # push before email
    expect(page.locator("#channel-2")).to_have_value("push")
    page.locator("#wait-1").fill("ten minutes")
    page.get_by_role("button", name="Save workflow").click()
    expect(page.get_by_role("alert")).to_contain_text("The workflow was not saved")
    check_both_schemes(page)  # the form with its errors

    page.locator("#wait-1").fill("PT10M")
    page.get_by_role("button", name="Save workflow").click()
    expect(page.get_by_role("status").filter(has_text="saved")).to_be_visible()
    status, flow = http_json(
        "GET",
        ui.server.url + "/api/v1/workflows/comment",
        None,
        {"Authorization": f"Bearer {ui.token}"},
    )
    assert status == 200
    assert [s.get("channel") or s["wait"] for s in flow["steps"]] == [
        "in_app",
        "PT10M",
        "push",
        "email",
    ]

    ui.send(to="alice", type="comment", title="Review requested")
    runs = admin.page("/admin/workflows/comment")
    # The run is listed at once; the server's worker loop takes its first steps within a
    # second or two: reload until they show.
    deadline = time.monotonic() + 30
    while "in_app: sent" not in runs.content() and time.monotonic() < deadline:
        runs.wait_for_timeout(200)
        runs.reload()
    run = runs.locator("tr[id^=run-]").first
    expect(run).to_contain_text("alice@example.com")
    expect(run).to_contain_text("in_app: sent")
    expect(run).to_contain_text("wait PT10M: pending")
    check_both_schemes(runs)
    screenshots(ui, runs, "admin-workflow")
    # The only console message: the browser's note on the form answered 422 (errors shown).
    expected = "the server responded with a status of 422"
    assert [e for e in admin.errors if expected not in e] == [], admin.errors
    assert len(admin.errors) == 1
