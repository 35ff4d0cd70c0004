"""The notification center's state controls without a browser: tabs, search, snooze, seen."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask.testing import FlaskClient

from notifier.extensions import db
from notifier.models import Notification, utcnow
from notifier.service import states
from tests.conftest import AuthActions
from tests.factories import World, send

HX = {"HX-Request": "true"}


def ids_in(html: str) -> list[int]:
    """Return the notification ids of the list items, in page order."""
    return [int(i) for i in re.findall(r'<li id="n-(\d+)"', html)]


def row(nid: int) -> Notification:
    """Return the stored notification, fresh."""
    n = db.session.get(Notification, nid, populate_existing=True)
    assert n is not None
    return n


def test_tabs_search_and_priority_filter_the_page(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    deploy = send(world.alice, "Deploy finished", body="build 812", priority="high")
    lunch = send(world.alice, "Lunch is here")
    old = send(world.alice, "Old news")
    states.archive(world.alice, [old])
    auth.login()
    html = client.get("/").text
    assert ids_in(html) == [lunch, deploy]
    assert 'value="archived"' in html and ">Archived</label>" in html
    assert ">Apply</button>" not in html
    assert ids_in(client.get("/?status=archived").text) == [old]
    assert ids_in(client.get("/?q=BUILD").text) == [deploy]
    assert ids_in(client.get("/?priority=high").text) == [deploy]
    empty = client.get("/?q=nothing+like+it").text
    assert "No notifications match “nothing like it”." in empty


def test_archive_and_snooze_remove_the_item_and_say_so(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    a, b = send(world.alice, "A"), send(world.alice, "B")
    auth.login()
    resp = client.post(f"/notifications/{a}/archive", headers=HX)
    assert resp.status_code == 200 and "Archived." in resp.text and f'id="n-{a}"' not in resp.text
    assert row(a).archived_at is not None
    resp = client.post(f"/notifications/{b}/snooze", data={"preset": "1h"}, headers=HX)
    assert "Snoozed until" in resp.text
    assert row(b).snoozed_until is not None and row(b).snoozed_until > utcnow()
    # A chosen time is read in the user's zone (Europe/Amsterdam is UTC+1 in winter).
    world.alice.timezone = "Europe/Amsterdam"
    db.session.commit()
    at = (utcnow() + timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0)
    client.post(
        f"/notifications/{b}/snooze", data={"preset": "at", "at": at.strftime("%Y-%m-%dT%H:%M")}
    )
    assert row(b).snoozed_until == at - timedelta(hours=1)
    bad = client.post(
        f"/notifications/{b}/snooze", data={"preset": "at", "at": "1999-01-01T00:00"}, headers=HX
    )
    assert "Pick a time after now" in bad.text and bad.headers["HX-Reswap"] == "none"
    for nonsense in ("0000-13-45T99:99", "soon", ""):
        resp = client.post(f"/notifications/{b}/snooze", data={"preset": "at", "at": nonsense})
        assert resp.status_code == 302  # back to the page with a message, nothing stored
    assert row(b).snoozed_until == at - timedelta(hours=1)
    client.post(f"/notifications/{a}/unarchive", headers=HX)
    assert row(a).archived_at is None


def test_seen_reports_and_state_routes_are_404_for_others(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    mine, bobs = send(world.alice, "mine"), send(world.bob, "bob's")
    auth.login()
    resp = client.post("/notifications/seen", data={"ids": [str(mine), str(bobs)]})
    assert resp.status_code == 204
    assert row(mine).seen_at is not None and row(bobs).seen_at is None
    assert client.post("/notifications/seen", data={"ids": ["x"]}).status_code == 400
    for path in ("archive", "unarchive", "snooze", "group"):
        method = client.get if path == "group" else client.post
        assert method(f"/notifications/{bobs}/{path}", data={"preset": "1h"}).status_code == 404
    assert row(bobs).archived_at is None and row(bobs).snoozed_until is None


def test_group_rows_expand_and_read_together(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    first = send(world.alice, "Dana commented", group_key="r7")
    newest = send(world.alice, "Bob commented", group_key="r7")
    auth.login()
    html = client.get("/").text
    assert ids_in(html) == [newest] and "and 1 more" in html
    members = client.get(f"/notifications/{newest}/group", headers=HX).text
    assert ids_in(members) == [first] and "is-member" in members
    resp = client.post(f"/notifications/{newest}/read?group=true", headers=HX)
    assert "and 1 more" in resp.text  # the row keeps its count
    assert row(first).read_at is not None


def test_density_is_remembered_in_an_httponly_cookie(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    assert "density-comfortable" in client.get("/").text
    resp = client.post("/density", data={"density": "compact"}, headers=HX)
    assert resp.status_code == 204
    cookie = resp.headers["Set-Cookie"]
    assert "notifier_density=compact" in cookie and "HttpOnly" in cookie
    assert "density-compact" in client.get("/").text
    assert client.post("/density", data={"density": "tiny"}).status_code == 400


def test_archive_read_archives_only_read_ones(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    a, b = send(world.alice, "A"), send(world.alice, "B")
    auth.login()
    client.post(f"/notifications/{a}/read", headers=HX)
    resp = client.post("/notifications/archive-read", headers=HX)
    assert "1 read notification archived." in resp.text
    assert row(a).archived_at is not None and row(b).archived_at is None


def test_from_and_until_days_filter_in_the_users_time_zone(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    # Alice lives in Tokyo (UTC+9): 1 Dec 20:00 UTC is already 2 Dec there.
    world.alice.timezone = "Asia/Tokyo"
    early, late, later = (
        send(world.alice, "Early"),
        send(world.alice, "Late"),
        send(world.alice, "Later"),
    )
    at = {
        early: datetime(2026, 11, 30, 12, 0),  # 30 Nov 21:00 in Tokyo
        late: datetime(2026, 12, 1, 20, 0),  # 2 Dec 05:00 in Tokyo
        later: datetime(2026, 12, 3, 16, 0),  # 4 Dec 01:00 in Tokyo
    }
    for nid, when in at.items():
        row(nid).created_at = when
    db.session.commit()
    auth.login()
    assert ids_in(client.get("/?since=2026-12-01").text) == [later, late]
    assert ids_in(client.get("/?until=2026-12-01").text) == [early]
    assert ids_in(client.get("/?since=2026-12-02&until=2026-12-03").text) == [late]
    html = client.get("/?since=2026-12-05").text
    assert ids_in(html) == [] and "Nothing matches these filters." in html
    assert 'name="since" type="date" value="2026-12-05"' in html
    # The list tells the page's script the same bounds in UTC, for live items.
    assert 'data-since="2026-12-04T15:00:00Z"' in html
    # A malformed or out-of-range day is dropped, not an error.
    for bad in ("2026-13-01", "yesterday", "0001-01-01", "9999-12-31"):
        resp = client.get(f"/?until={bad}")
        assert resp.status_code == 200 and ids_in(resp.text) == [later, late, early], bad
