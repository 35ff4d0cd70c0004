"""The preferences page: the matrix, mandatory types, quiet hours, htmx and plain POST."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.service import preferences as prefs_svc
from tests.conftest import AuthActions
from tests.factories import World, send

HX = {"HX-Request": "true"}
SAVED = (
    '<p id="prefs-status" class="prefs-status" role="status"><span class="saved-note">Preferences'
)

CONFIGURED = ["billing", "comment", "mention", "security", "system"]
ALL_CHANNELS = {
    "NOTIFIER_SMTP_HOST": "127.0.0.1",
    "NOTIFIER_VAPID_PRIVATE_KEY": "test-key",
    "NOTIFIER_VAPID_PUBLIC_KEY": "test-public-key",
    "NOTIFIER_SMS_URL": "http://127.0.0.1:9/sms",
}


@pytest.fixture(autouse=True)
def channels_set_up(app: Flask) -> None:
    """Every channel is set up unless a test unsets them (unset ones are not tickable)."""
    app.config.update(ALL_CHANNELS)


def form_data(page: str, **changes: Any) -> dict[str, Any]:
    """Return what a browser would submit for the rendered form, with ``changes`` applied."""
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or " disabled" in tag:
            continue  # disabled boxes are never submitted
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if kind and kind.group(1) == "checkbox":
            if " checked" in tag:
                data[name.group(1)] = "y"
        elif name.group(1) == "shown_types":
            data.setdefault("shown_types", []).append(value.group(1) if value else "")
        else:
            data[name.group(1)] = value.group(1) if value else ""
    for select in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"', select.group(2))
        data[select.group(1)] = chosen.group(1) if chosen else ""
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def field_for(page: str, label: str) -> str:
    """Return the name of the field whose <label> reads ``label``."""
    match = re.search(rf'<label[^>]*for="([^"]+)"[^>]*>{re.escape(label)}</label>', page)
    assert match, f"no label {label!r}"
    return match.group(1)


def test_matrix_offers_configured_and_received_types(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    send(world.alice, "Build broke", type="ci.build")
    auth.login()
    page = client.get("/preferences").text
    rows = re.findall(r'<th scope="row">([^<]+)', page)
    assert [r.strip() for r in rows] == sorted([*CONFIGURED, "ci.build"])
    assert "<title>(1) Preferences</title>" in page


def test_mandatory_type_is_locked_on(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login()
    page = client.get("/preferences").text
    box = re.search(r'<input type="checkbox" id="([^"]+)" checked disabled', page)
    assert box and page.count("checked disabled") == 1
    assert f'for="{box.group(1)}" class="visually-hidden">security: In-app' in page


def test_plain_post_saves_and_redirects(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    page = client.get("/preferences").text
    data = form_data(
        page,
        **{
            field_for(page, "comment: Email"): None,
            "ch_sms": "y",
            "phone": "+15551234567",
            "quiet_enabled": "y",
            "quiet_start": "21:30",
            "quiet_end": "06:00",
            "quiet_timezone": "Europe/Amsterdam",
            field_for(page, "Email digest for mention"): "daily",
        },
    )
    resp = client.post("/preferences", data=data)
    assert resp.status_code == 302 and resp.headers["Location"] == "/preferences"
    assert "Preferences saved." in client.get("/preferences").text
    prefs = prefs_svc.get_preferences(world.alice.id)
    assert prefs["types"]["comment"] == {
        "in_app": True,
        "email": False,
        "push": True,
        "sms": True,
        "chat": True,
    }
    assert prefs["channels"]["sms"] is True
    assert world.alice.phone == "+15551234567"
    assert prefs["quiet_hours"] == {
        "enabled": True,
        "start": "21:30",
        "end": "06:00",
        "timezone": "Europe/Amsterdam",
    }
    assert prefs["digest"]["mention"] == "daily"
    assert prefs["types"]["security"]["in_app"] is True


def test_mandatory_stays_on_even_when_posted_off(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    page = client.get("/preferences").text
    name = re.search(r'<input type="checkbox" id="([^"]+)" checked disabled', page).group(1)
    data = form_data(page, **{name: None, "ch_in_app": None})  # everything in-app off
    assert client.post("/preferences", data=data).status_code == 302
    prefs = prefs_svc.get_preferences(world.alice.id)
    assert prefs["types"]["security"]["in_app"] is True
    assert prefs["channels"]["in_app"] is False
    assert prefs_svc.channel_allowed(prefs, "security", "in_app")


def test_htmx_post_swaps_the_form_in_place(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    page = client.get("/preferences").text
    resp = client.post("/preferences", headers=HX, data=form_data(page, ch_push=None))
    assert resp.status_code == 200
    assert "<html" not in resp.text
    assert resp.text.lstrip().startswith('<form id="prefs-form"')
    # Next to the button (a sticky bar), so it cannot scroll out of view.
    assert SAVED in resp.text
    assert 'id="ch_push" name="ch_push" role="switch" type="checkbox" value="y">' in resp.text
    assert prefs_svc.get_preferences(world.alice.id)["channels"]["push"] is False


def test_invalid_fields_get_messages_next_to_them(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    page = client.get("/preferences").text
    bad = form_data(page, quiet_enabled="y", quiet_start="", quiet_timezone="Mars/Olympus")
    for headers in ({}, HX):
        resp = client.post("/preferences", headers=headers, data=bad)
        assert resp.status_code == 422
        assert '<p class="error" id="quiet_start-error">Use a time like 22:00.</p>' in resp.text
        assert 'id="quiet_timezone-error">Not a valid choice' in resp.text
        assert 'aria-describedby="quiet_start-error" aria-invalid="true"' in resp.text
    assert prefs_svc.get_preferences(world.alice.id)["quiet_hours"]["enabled"] is False


def test_types_not_on_the_form_keep_their_settings(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    prefs_svc.set_preferences(world.alice, {"types": {"legacy": {"email": False}}}, merge=True)
    auth.login()
    page = client.get("/preferences").text
    data = form_data(page)
    # A form rendered before "legacy" existed posts without it: its settings must survive.
    data["shown_types"] = [t for t in data["shown_types"] if t != "legacy"]
    assert client.post("/preferences", data=data).status_code == 302
    assert prefs_svc.get_preferences(world.alice.id)["types"]["legacy"] == {"email": False}


def test_channels_not_set_up_cannot_be_ticked_and_keep_their_setting(
    app: Flask, world: World, client: FlaskClient, auth: AuthActions
) -> None:
    app.config.update(dict.fromkeys(ALL_CHANNELS))
    prefs_svc.set_preferences(
        world.alice,
        {"types": {"comment": {"email": False}}, "digest": {"mention": "daily"}},
        merge=True,
    )
    auth.login()
    page = client.get("/preferences").text
    for ch in ("email", "push", "sms"):
        assert re.search(
            rf'<input[^>]*disabled[^>]*id="ch_{ch}"|<input[^>]*id="ch_{ch}"[^>]*disabled', page
        )
    assert "(not set up on this server)" in page
    email_boxes = re.findall(r'<input[^>]*id="m\d+_email"[^>]*>', page)
    assert email_boxes and all(" disabled" in tag for tag in email_boxes)
    assert client.post("/preferences", data=form_data(page)).status_code == 302
    prefs = prefs_svc.get_preferences(world.alice.id)
    assert prefs["channels"]["email"] is True  # not posted, not changed
    assert prefs["types"]["comment"]["email"] is False
    assert prefs["digest"]["mention"] == "daily"


def test_only_recent_configured_and_mandatory_types_are_offered(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from notifier.extensions import db
    from notifier.models import Notification, utcnow

    old = send(world.alice, "Old test", type="adhoc.test")
    send(world.alice, "New one", type="ci.build")
    db.session.execute(
        update(Notification)
        .where(Notification.id == old)
        .values(created_at=utcnow() - timedelta(days=31))
    )
    db.session.commit()
    prefs_svc.set_preferences(world.alice, {"types": {"legacy": {"email": False}}}, merge=True)
    auth.login()
    rows = [
        r.strip() for r in re.findall(r'<th scope="row">([^<]+)', client.get("/preferences").text)
    ]
    assert rows == sorted([*CONFIGURED, "ci.build"])


def test_sms_needs_a_valid_e164_phone(world: World, client: FlaskClient, auth: AuthActions) -> None:
    auth.login()
    page = client.get("/preferences").text
    resp = client.post("/preferences", data=form_data(page, ch_sms="y", phone=""), headers=HX)
    assert resp.status_code == 422
    assert 'id="phone-error">Add a phone number to get SMS.' in resp.text
    resp = client.post(
        "/preferences", data=form_data(page, ch_sms="y", phone="555-1234"), headers=HX
    )
    assert resp.status_code == 422 and 'id="phone-error">must be E.164' in resp.text
    assert prefs_svc.get_preferences(world.alice.id)["channels"]["sms"] is False
    assert world.alice.phone is None
    resp = client.post(
        "/preferences", data=form_data(page, ch_sms="y", phone="+4915112345678"), headers=HX
    )
    assert resp.status_code == 200
    assert SAVED in resp.text
    assert world.alice.phone == "+4915112345678"
