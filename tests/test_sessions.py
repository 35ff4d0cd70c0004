"""Logout and revocation end credentials server-side (CONTRACT §8), in-process.

Copies of the session and "keep me signed in" cookies taken before logout are replayed on a
fresh client; streams are read through the Flask test client (the memory bus delivers the
close message synchronously, so no waiting is involved). No app context stays pushed
between requests here: a shared one would share ``g`` and with it Flask-Login's cached
user, so a replayed cookie would look valid whatever the server decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login.utils import _create_identifier

from notifier.extensions import db, state
from notifier.models import ApiToken, User, UserSession, utcnow
from notifier.service import accounts, sessions
from tests.conftest import make_app
from tests.factories import PASSWORD, bearer, make_world
from tests.sse_client import STREAM, Tab, names

ALICE = "alice@example.com"
API = "/api/v1/notifications"


@dataclass
class Site:
    """An app with no context pushed, and the ids and tokens of the test world."""

    app: Flask
    alice_id: int
    alice_token: str
    bob_token: str

    @property
    def alice_h(self) -> dict[str, str]:
        return bearer(self.alice_token)

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def token_id(self, token: str) -> int:
        with self.app.app_context():
            row = accounts.token_row(token)
            assert row is not None
            return row.id


@pytest.fixture
def site(tmp_path: Any) -> Iterator[Site]:
    app = make_app(f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.app_context():
        world = make_world()
        made = Site(app, world.alice.id, world.alice_token, world.bob_token)
    yield made
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def sign_in(client: FlaskClient, *, remember: bool = False, email: str = ALICE) -> Any:
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    resp = client.post("/login", data=data)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    return resp


def cookie(client: FlaskClient, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


def replay(app: Flask, name: str, value: str) -> FlaskClient:
    """Return a fresh client holding only the cookie ``name`` = ``value``."""
    other = app.test_client()
    other.set_cookie(name, value)
    return other


def assert_signed_out(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    api = client.get(API)
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "unauthorized"
    stream = client.get("/stream")
    assert stream.status_code == 302 and "/login" in stream.headers["Location"]
    assert client.get(STREAM).status_code == 401


def test_a_copied_session_cookie_stops_working_after_logout(site: Site) -> None:
    client = site.client()
    sign_in(client)
    copied = cookie(client, "session")
    assert replay(site.app, "session", copied).get("/").status_code == 200  # the copy works...
    assert client.post("/logout").status_code == 302
    assert_signed_out(replay(site.app, "session", copied))  # ...until logout


def test_the_remember_cookie_stops_working_after_logout(site: Site) -> None:
    client = site.client()
    sign_in(client, remember=True)
    remembered = cookie(client, "remember_token")
    # "Keep me signed in" signs a browser in that has nothing else.
    assert replay(site.app, "remember_token", remembered).get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert_signed_out(replay(site.app, "remember_token", remembered))


def test_each_login_gets_its_own_remember_value_and_logout_ends_only_that_one(
    site: Site,
) -> None:
    laptop, phone = site.client(), site.client()
    sign_in(laptop, remember=True)
    sign_in(phone, remember=True)
    assert cookie(laptop, "remember_token") != cookie(phone, "remember_token")
    laptop_session = cookie(laptop, "session")
    assert laptop.post("/logout").status_code == 302
    assert_signed_out(replay(site.app, "session", laptop_session))
    assert phone.get("/").status_code == 200  # the other device stays signed in
    assert phone.get(API).status_code == 200


def test_cookies_written_before_server_side_sessions_authenticate_nothing(site: Site) -> None:
    # Flask-Login used to keep the bare user id: a fixed value, valid for 365 days.
    old = site.client()
    with site.app.test_request_context(environ_base=old.environ_base):
        identifier = _create_identifier()  # what Flask-Login derives for this client
    with old.session_transaction() as sess:
        sess["_user_id"] = str(site.alice_id)
        sess["_fresh"] = True
        sess["_id"] = identifier
    assert old.get("/").status_code == 302


def test_sign_ins_expire_after_the_remember_duration(site: Site) -> None:
    client = site.client()
    sign_in(client, remember=True)
    assert client.get("/").status_code == 200
    with site.app.app_context():
        row = db.session.query(UserSession).one()
        row.created_at = utcnow() - sessions.max_age() - sessions.DEFAULT_MAX_AGE / 30
        db.session.commit()
    assert client.get("/").status_code == 302
    remembered = replay(site.app, "remember_token", cookie(client, "remember_token"))
    assert remembered.get("/").status_code == 302


def set_cookies(resp: Any) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in resp.headers.getlist("Set-Cookie")}


@pytest.mark.parametrize(
    ("base_url", "secure"), [("https://notify.example.com", True), (None, False)]
)
def test_cookie_flags(tmp_path: Any, base_url: str | None, secure: bool) -> None:
    extra = {"NOTIFIER_BASE_URL": base_url} if base_url else {}
    app = make_app(f"sqlite:///{tmp_path / 'c.sqlite'}", **extra)
    with app.app_context():
        accounts.create_user(ALICE, PASSWORD, tenant=accounts.get_or_create_tenant("acme"))
    resp = sign_in(app.test_client(), remember=True)
    cookies = set_cookies(resp)
    assert set(cookies) == {"session", "remember_token"}
    for header in cookies.values():
        assert "HttpOnly" in header and "SameSite=Lax" in header
        assert ("Secure" in header) is secure
    with app.app_context():
        db.engine.dispose()


def ended(tab: Tab) -> bool:
    """Read what the stream still writes (its retry hint); True when the response is over."""
    while not tab.ended:
        if not tab.read():
            tab.read()
            break
    return tab.ended


def test_logout_closes_the_page_and_api_streams_of_that_sign_in(site: Site) -> None:
    client, other = site.client(), site.client()
    sign_in(client)
    sign_in(other)  # another device of the same user
    page, api, kept = Tab(client, "/stream"), Tab(client, STREAM), Tab(other, "/stream")
    try:
        for tab in (page, api, kept):
            assert tab.status == 200 and "connected" in names(tab.read())
        assert state(site.app).hub.by_user().get(site.alice_id, 0) == 3
        assert client.post("/logout").status_code == 302
        assert ended(page) and ended(api)
        assert state(site.app).hub.by_user().get(site.alice_id, 0) == 1
        assert not kept.ended
    finally:
        for tab in (page, api, kept):
            tab.close()


def test_revoking_a_token_closes_its_streams_and_refuses_its_stream_tokens(site: Site) -> None:
    client = site.client()
    minted = client.post("/api/v1/stream-token", headers=site.alice_h).get_json()["token"]
    # A second token of alice's, whose streams must survive the first one's revocation.
    second = client.post("/api/v1/tokens", json={"name": "ci"}, headers=site.alice_h)
    second_h = bearer(second.get_json()["token"])
    by_stream_token = Tab(client, STREAM, query_string={"token": minted})
    by_bearer = Tab(client, STREAM, headers=site.alice_h)
    by_other = Tab(client, STREAM, headers=second_h)
    tabs = (by_stream_token, by_bearer, by_other)
    try:
        for tab in tabs:
            assert tab.status == 200 and "connected" in names(tab.read())
        first_id = site.token_id(site.alice_token)
        assert client.delete(f"/api/v1/tokens/{first_id}", headers=second_h).status_code == 204
        assert ended(by_stream_token) and ended(by_bearer)
        assert not by_other.ended
        again = client.get(STREAM, query_string={"token": minted})
        assert again.status_code == 401 and again.get_json()["error"]["code"] == "invalid_token"
        assert client.get(STREAM, headers=site.alice_h).status_code == 401
        still = Tab(client, STREAM, headers=second_h)
        assert still.status == 200
        still.close()
    finally:
        for tab in tabs:
            tab.close()


def test_deactivation_closes_every_stream_and_refuses_every_credential(site: Site) -> None:
    client = site.client()
    sign_in(client)
    minted = client.post("/api/v1/stream-token", headers=site.alice_h).get_json()["token"]
    tabs = [Tab(client, "/stream"), Tab(client, STREAM, query_string={"token": minted})]
    try:
        for tab in tabs:
            assert "connected" in names(tab.read())
        with site.app.app_context():
            sessions.deactivate_user(db.session.get(User, site.alice_id))
        assert all(ended(tab) for tab in tabs)
        assert client.get("/").status_code == 302
        assert client.get(STREAM, query_string={"token": minted}).status_code == 401
        assert client.get(STREAM, headers=site.alice_h).status_code == 401
        assert state(site.app).hub.by_user().get(site.alice_id, 0) == 0
    finally:
        for tab in tabs:
            tab.close()


def test_the_deactivate_user_command_closes_streams_and_reactivation_signs_in_again(
    site: Site,
) -> None:
    client = site.client()
    tab = Tab(client, STREAM, headers=site.alice_h)
    try:
        assert "connected" in names(tab.read())
        out = site.app.test_cli_runner().invoke(args=["deactivate-user", ALICE])
        assert out.exit_code == 0, out.output
        assert out.output.startswith("deactivated user ")
        assert ended(tab)
        assert client.get(STREAM, headers=site.alice_h).status_code == 401
        refused = client.post("/login", data={"email": ALICE, "password": PASSWORD})
        assert refused.status_code == 401  # the login form refuses her too
        out = site.app.test_cli_runner().invoke(args=["deactivate-user", ALICE, "--reactivate"])
        assert out.exit_code == 0, out.output
        sign_in(client)  # asserts the redirect to the inbox
    finally:
        tab.close()
    missing = site.app.test_cli_runner().invoke(args=["deactivate-user", "nobody@example.com"])
    assert missing.exit_code == 1
    assert "no user nobody@example.com" in missing.output


def test_after_a_bus_outage_a_stream_whose_token_died_meanwhile_ends(site: Site) -> None:
    tab = Tab(site.client(), STREAM, headers=site.alice_h)
    try:
        assert "connected" in names(tab.read())
        # Revoked while the close message could not travel (the bus was down)...
        with site.app.app_context():
            db.session.get(ApiToken, site.token_id(site.alice_token)).revoked_at = utcnow()
            db.session.commit()
        assert state(site.app).hub.by_user().get(site.alice_id, 0) == 1
        state(site.app).hub.request_replay_all()  # ...then the bus reconnects
        assert ended(tab)
        assert state(site.app).hub.by_user().get(site.alice_id, 0) == 0
    finally:
        tab.close()


def test_stream_tokens_name_a_live_parent(site: Site) -> None:
    with site.app.test_request_context():
        serializer = accounts._stream_serializer()
        orphan = serializer.dumps({"u": site.alice_id})  # the format before parents
        foreign = serializer.dumps({"u": site.alice_id, "t": site.token_id(site.bob_token)})
    client = site.client()
    for token in (orphan, foreign):
        assert client.get(STREAM, query_string={"token": token}).status_code == 401


def test_a_token_revoked_while_its_stream_connects_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = state(site.app).hub
    subscribe = hub.subscribe
    ident = site.token_id(site.alice_token)

    def revoked_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # Another request revokes the token after this one authenticated: its close message
        # finds no subscription yet, so the connect itself must notice (the token cache the
        # authentication used must not vouch for it any more either).
        with site.app.app_context():
            accounts.revoke_token(db.session.get(User, site.alice_id), ident)
        return subscribe(*args, **kwargs)

    monkeypatch.setattr(hub, "subscribe", revoked_meanwhile)
    resp = site.client().get(STREAM, headers=site.alice_h)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_token"
    assert hub.by_user().get(site.alice_id, 0) == 0
