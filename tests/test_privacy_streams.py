"""Erasing a user closes their open streams (the bus close message deactivation uses)."""

from __future__ import annotations

from notifier.extensions import db, state
from notifier.models import User
from notifier.service import privacy
from tests.factories import PASSWORD
from tests.sse_client import STREAM, Tab, names
from tests.test_sessions import Site, ended, sign_in, site

__all__ = ["site"]  # the fixture, shared with test_sessions


def test_erasing_a_user_closes_every_stream_of_theirs(site: Site) -> None:
    client, other = site.client(), site.client()
    sign_in(client)
    minted = client.post("/api/v1/stream-token", headers=site.alice_h).get_json()["token"]
    tabs = [Tab(client, "/stream"), Tab(client, STREAM, query_string={"token": minted})]
    bobs = Tab(other, STREAM, headers={"Authorization": f"Bearer {site.bob_token}"})
    try:
        for tab in (*tabs, bobs):
            assert "connected" in names(tab.read())
        resp = other.delete("/api/v1/me", json={"password": PASSWORD}, headers=site.alice_h)
        assert resp.status_code == 204
        assert all(ended(tab) for tab in tabs)
        assert not bobs.ended
        assert state(site.app).hub.user_count(site.alice_id) == 0
        assert client.get(STREAM, query_string={"token": minted}).status_code == 401
        assert client.get("/").status_code == 302
        with site.app.app_context():
            assert db.session.get(User, site.alice_id) is None
    finally:
        for tab in (*tabs, bobs):
            tab.close()


def test_admin_erasure_closes_streams_too(site: Site) -> None:
    client = site.client()
    tab = Tab(client, STREAM, headers=site.alice_h)
    try:
        assert "connected" in names(tab.read())
        with site.app.app_context():
            privacy.erase_user(db.session.get(User, site.alice_id), "cli")
        assert ended(tab)
    finally:
        tab.close()
