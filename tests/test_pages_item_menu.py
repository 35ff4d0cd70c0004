"""An item's action buttons and "Why am I seeing this?" on the pages (no JS and htmx)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from notifier.service import actions as actions_svc
from notifier.service import preferences as prefs_svc
from tests.conftest import AuthActions, make_app
from tests.factories import World, send

HX = {"HX-Request": "true"}
APPROVE = {"id": "approve", "label": "Approve", "callback": True}
VIEW = {"id": "view", "label": "View report", "url": "/reports/7"}


def test_item_shows_primary_and_secondary_buttons_that_record_clicks(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    nid = send(world.alice, "Expense #7", actions=[APPROVE, VIEW])
    auth.login()
    html = client.get("/").text
    assert f'id="n-{nid}-act-approve" class="btn small primary"' in html
    assert f'id="n-{nid}-act-view" class="btn small secondary"' in html

    resp = client.post(f"/notifications/{nid}/actions/approve", headers=HX)
    assert resp.status_code == 200
    assert f'id="n-{nid}"' in resp.text and "is-read" in resp.text
    resp = client.post(f"/notifications/{nid}/actions/view", headers=HX)
    assert resp.headers["HX-Redirect"] == "/reports/7"
    no_js = client.post(f"/notifications/{nid}/actions/view")
    assert no_js.status_code == 302 and no_js.headers["Location"] == "/reports/7"
    assert actions_svc.clicks(nid) == {"approve": 1, "view": 2}
    assert client.post(f"/notifications/{nid}/actions/nope", headers=HX).status_code == 404


def test_other_users_items_are_404_for_actions_and_why(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    nid = send(world.alice, "Expense #7", actions=[APPROVE])
    auth.login("bob@example.com")
    assert client.post(f"/notifications/{nid}/actions/approve").status_code == 404
    assert client.get(f"/notifications/{nid}/why").status_code == 404
    form = {"scope": "type", "channel": "email", "value": "0"}
    assert client.post(f"/notifications/{nid}/why", data=form).status_code == 404


def test_why_shows_the_rule_path_and_its_switch_turns_the_type_off(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    prefs_svc.set_preferences(world.alice, {"types": {"comment": {"in_app": True}}}, merge=True)
    nid = send(world.alice, "Bob commented")
    auth.login()
    assert f'href="/notifications/{nid}/why"' in client.get("/").text
    html = client.get(f"/notifications/{nid}/why", headers=HX).text
    assert "In-app notifications were on (the default)." in html
    assert "In-app for comment was on (your setting)." in html
    assert f'id="why-{nid}-type-in_app" checked' in html

    form = {"scope": "type", "channel": "in_app", "value": "0"}
    resp = client.post(f"/notifications/{nid}/why", data=form, headers=HX)
    assert resp.status_code == 200 and "Saved." in resp.text
    assert f'id="why-{nid}-type-in_app" checked' not in resp.text
    assert prefs_svc.get_preferences(world.alice.id)["types"]["comment"]["in_app"] is False
    # The stored path still explains why this one came (the rule that let it through then).
    assert "In-app for comment was on (your setting)." in resp.text


def test_why_names_a_mandatory_type_and_quiet_hours(tmp_path) -> None:
    app: Flask = make_app(
        f"sqlite:///{tmp_path / 'why.sqlite'}",
        NOTIFIER_MANDATORY_TYPES=("security",),
        NOTIFIER_SMTP_HOST="127.0.0.1",
    )
    from tests.factories import make_user

    with app.app_context():
        alice = make_user("alice@example.com")
        now = datetime.now(UTC)
        start, end = (f"{(now + timedelta(hours=h)):%H:%M}" for h in (-1, 1))
        qh = {"enabled": True, "start": start, "end": end, "timezone": "UTC"}
        prefs_svc.set_preferences(
            alice, {"quiet_hours": qh, "digest": {"security": "daily"}}, merge=True
        )
        nid = send(alice, "New sign-in", type="security", channels=["in_app", "email"])
    client = app.test_client()
    AuthActions(client).login()
    html = client.get(f"/notifications/{nid}/why").text
    assert "security is mandatory on this server: it always reaches the inbox." in html
    assert "Held for your quiet hours, until" in html
    assert "Goes out in your daily digest." in html


def test_why_says_which_channels_this_server_could_not_use(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    prefs_svc.set_preferences(world.alice, {"types": {"comment": {"push": False}}}, merge=True)
    nid = send(world.alice, "Bob commented", channels=["in_app", "email", "push", "sms"])
    auth.login()
    html = client.get(f"/notifications/{nid}/why", headers=HX).text
    assert "<strong>Email:</strong> Not sent: email channel is not configured." in html
    assert "<strong>Push:</strong> Off for comment (your setting)." in html
    assert "<strong>SMS:</strong> Off for all notifications (the default)." in html
    # Chat posts to the tenant's Slack or Discord: the path knows it was allowed, not sent.
    team = send(world.alice, "Deploy", channels=["in_app", "chat"])
    html = client.get(f"/notifications/{team}/why", headers=HX).text
    assert "<strong>Team chat:</strong> Allowed: posted to your team" in html


def test_why_shows_the_workflow_steps_as_they_stand(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    from sqlalchemy import update

    from notifier.extensions import db
    from notifier.models import utcnow
    from notifier.models_flows import WorkflowRun
    from notifier.service import workflow_runs

    plain = send(world.alice, "Sent without a workflow")
    steps = [{"channel": "in_app"}, {"wait": "PT1H30M", "unless": "read"}, {"channel": "email"}]
    put = client.put("/api/v1/workflows/comment", headers=world.admin_h, json={"steps": steps})
    assert put.status_code in (200, 201), put.get_json()
    body = {"user_id": world.alice.id, "type": "comment", "title": "Build failed"}
    resp = client.post("/api/v1/notifications", headers=world.admin_h, json=body)
    nid = resp.get_json()["notification"]["id"]
    workflow_runs.tick()
    auth.login()
    html = client.get(f"/notifications/{nid}/why", headers=HX).text
    assert "Sent by the workflow for comment:" in html
    assert "Step 1, In-app: done." in html
    # The wait under way says when it ends, in alice's time zone (UTC here).
    assert re.search(
        r"Step 2, wait 1 h 30 min, ends the run if you read it in time: "
        r"waiting until \w{3} \d\d \w{3}, \d\d:\d\d\.",
        html,
    )
    assert "Step 3, Email: not yet." in html
    assert "Sent by the workflow" not in client.get(f"/notifications/{plain}/why", headers=HX).text

    # Read within the wait: when the wait is over, the panel says the run ended there.
    client.post(f"/notifications/{nid}/read", headers=HX)
    past = utcnow() - timedelta(seconds=1)
    db.session.execute(update(WorkflowRun).values(due_at=past))
    db.session.commit()
    workflow_runs.tick()
    html = client.get(f"/notifications/{nid}/why", headers=HX).text
    assert (
        "Step 2, wait 1 h 30 min, ends the run if you read it in time: done (read in time)." in html
    )
    assert "Step 3, Email: skipped (read in time)." in html
