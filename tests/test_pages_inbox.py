"""The notification center page: list, filters, pagination, item and bulk actions."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from notifier.models import Notification
from notifier.service import events, inbox
from tests.conftest import AuthActions
from tests.factories import World, send

HX = {"HX-Request": "true"}
XSS = "<img src=x onerror=alert(1)>"


def ids_in(html: str) -> list[int]:
    """Return the notification ids of the list items, in page order."""
    return [int(i) for i in re.findall(r'<li id="n-(\d+)"', html)]


def test_inbox_lists_newest_first_with_badge_title_and_cursor(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    first, second = send(world.alice, "First"), send(world.alice, "Second")
    send(world.bob, "Not for alice")
    auth.login()
    resp = client.get("/")
    html = resp.text
    assert resp.status_code == 200
    assert ids_in(html) == [second, first]
    assert "Not for alice" not in html
    assert "<title>(2) Notifications</title>" in html
    assert 'data-count="2"' in html
    cursor = events.current_cursor(world.alice.id)
    assert f'data-cursor="{cursor}"' in html and f'sse-connect="/stream?after={cursor}"' in html
    assert "HX-Request" in resp.headers["Vary"]


def test_empty_inbox_says_what_will_appear(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    html = client.get("/").text
    assert "No notifications yet." in html
    assert "will appear here the moment they are sent" in html
    assert "<title>Notifications</title>" in html
    assert "You are all caught up." in client.get("/?status=unread").text
    assert "Nothing matches these filters." in client.get("/?type=billing").text


def test_titles_and_bodies_are_escaped(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    send(world.alice, XSS, body=XSS)
    auth.login()
    html = client.get("/").text
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_filters_by_status_type_and_tag(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    read_one = send(world.alice, "Read one")
    mention = send(world.alice, "A mention", type="mention")
    tagged = send(world.alice, "Tagged", tags=["billing-q3"])
    inbox.mark(world.alice, read_one, read=True)
    auth.login()
    assert ids_in(client.get("/?status=unread").text) == [tagged, mention]
    assert ids_in(client.get("/?type=mention").text) == [mention]
    assert ids_in(client.get("/?tag=billing-q3").text) == [tagged]
    assert ids_in(client.get("/?tag=billing").text) == []  # tags match exactly
    assert ids_in(client.get("/?status=all").text) == [tagged, mention, read_one]


def test_filter_request_from_htmx_returns_the_list_and_the_badge(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    send(world.alice, "A mention", type="mention")
    send(world.alice, "A comment")
    auth.login()
    resp = client.get("/?type=mention", headers={**HX, "HX-Target": "inbox-list"})
    assert "<html" not in resp.text
    assert resp.text.lstrip().startswith('<div id="inbox-list"')
    assert 'data-type="mention"' in resp.text  # the list remembers its filter for live items
    assert '<span id="unread-badge" hx-swap-oob="innerHTML">' in resp.text
    assert "A comment" not in resp.text


def test_load_more_pages_through_everything_once(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    sent = [send(world.alice, f"Note {i}") for i in range(45)]
    auth.login()
    html = client.get("/?type=comment").text
    seen = ids_in(html)
    assert len(seen) == 20
    while True:
        more = re.search(r'hx-get="([^"]+)" hx-target="closest li"', html)
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
        assert "type=comment" in url  # the filter carries over
        html = client.get(url, headers={**HX, "HX-Target": "load-more"}).text
        assert "<html" not in html and 'id="inbox-list"' not in html
        seen += ids_in(html)
    assert seen == sorted(sent, reverse=True)


def test_bad_pagination_cursor_is_a_400(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    assert client.get("/?before=abc").status_code == 400


def test_mark_read_with_htmx_returns_the_item_and_badge(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    nid = send(world.alice, "Hello")
    send(world.alice, "Other")
    auth.login()
    resp = client.post(f"/notifications/{nid}/read", headers=HX)
    assert resp.status_code == 200
    assert f'<li id="n-{nid}" class="item is-read' in resp.text
    assert "Mark unread" in resp.text
    assert 'data-count="1"' in resp.text
    resp = client.post(f"/notifications/{nid}/unread", headers=HX)
    assert "is-unread" in resp.text and 'data-count="2"' in resp.text


def test_actions_without_javascript_redirect_back_with_a_message(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    nid = send(world.alice, "Hello")
    auth.login()
    resp = client.post(
        f"/notifications/{nid}/read", headers={"Referer": "http://localhost/?status=unread"}
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/?status=unread"
    assert "Notification marked read." in client.get("/").text
    resp = client.post(f"/notifications/{nid}/delete")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/").text
    assert "Notification deleted." in page and ids_in(page) == []


def test_delete_with_htmx_removes_the_item(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    nid = send(world.alice, "Hello")
    auth.login()
    resp = client.post(f"/notifications/{nid}/delete", headers=HX)
    assert f'id="n-{nid}"' not in resp.text  # an empty main swap removes the item
    assert 'data-count="0"' in resp.text
    assert ids_in(client.get("/").text) == []


def test_other_users_notifications_are_404(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    bobs = send(world.bob, "Private")
    auth.login()
    for path in (
        f"/notifications/{bobs}/read",
        f"/notifications/{bobs}/unread",
        f"/notifications/{bobs}/delete",
    ):
        assert client.post(path, headers=HX).status_code == 404
    assert client.get(f"/notifications/{bobs}/open").status_code == 404
    assert inbox.stats(world.bob.id)["unread"] == 1


def test_open_marks_read_and_follows_the_link(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    linked = send(world.alice, "Report", url="/reports/42")
    plain = send(world.alice, "No link")
    auth.login()
    resp = client.get(f"/notifications/{linked}/open")
    assert resp.status_code == 302 and resp.headers["Location"] == "/reports/42"
    resp = client.get(f"/notifications/{plain}/open")
    assert resp.headers["Location"] == f"/#n-{plain}"
    assert inbox.stats(world.alice.id)["unread"] == 0


def test_bulk_delete_with_htmx_removes_only_mine(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    a, b, keep = send(world.alice, "A"), send(world.alice, "B"), send(world.alice, "Keep")
    bobs = send(world.bob, "Bob's")
    auth.login()
    resp = client.post(
        "/notifications/bulk",
        headers=HX,
        data={"action": "delete", "ids": [str(a), str(b), str(bobs)]},
    )
    assert resp.status_code == 200
    assert f'<li id="n-{a}" hx-swap-oob="delete">' in resp.text
    assert f'<li id="n-{b}" hx-swap-oob="delete">' in resp.text
    assert f"n-{bobs}" not in resp.text
    assert "2 notifications deleted." in resp.text
    assert ids_in(client.get("/").text) == [keep]
    assert inbox.stats(world.bob.id)["total"] == 1


def test_bulk_read_without_javascript_and_with_nothing_selected(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    a = send(world.alice, "A")
    auth.login()
    resp = client.post("/notifications/bulk", data={"action": "read", "ids": [str(a)]})
    assert resp.status_code == 302
    assert "1 notification marked read." in client.get("/").text
    resp = client.post("/notifications/bulk", headers=HX, data={"action": "read"})
    assert "Select notifications first." in resp.text
    assert (
        client.post("/notifications/bulk", data={"action": "explode", "ids": [str(a)]}).status_code
        == 400
    )


def test_mark_all_read_with_htmx_rerenders_the_list(
    world: World, client: FlaskClient, auth: AuthActions
) -> None:
    for i in range(3):
        send(world.alice, f"N{i}")
    auth.login()
    resp = client.post("/notifications/read-all", headers=HX, data={"status": "unread"})
    assert resp.text.lstrip().startswith('<div id="inbox-list"')
    assert "You are all caught up." in resp.text  # the unread filter came along
    assert "3 notifications marked read." in resp.text
    assert 'data-count="0"' in resp.text
    assert Notification.query.filter(Notification.read_at.is_(None)).count() == 0
