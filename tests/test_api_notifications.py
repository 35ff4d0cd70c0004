"""REST API: the caller's inbox: list, filters, pages, one notification, marks, bulk, stats."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from notifier.extensions import db
from notifier.models import Event
from tests.factories import World, send

URL = "/api/v1/notifications"


def test_list_is_newest_first_with_counts_and_cursor(client: FlaskClient, world: World) -> None:
    ids = [send(world.alice, f"n{i}") for i in range(3)]
    client.post(f"{URL}/{ids[0]}/read", headers=world.alice_h)
    data = client.get(URL, headers=world.alice_h).get_json()
    assert [n["id"] for n in data["items"]] == ids[::-1]
    assert (data["total"], data["unread"], data["next"]) == (3, 2, None)
    newest = db.session.scalar(
        select(func.max(Event.cursor)).where(Event.user_id == world.alice.id)
    )
    assert data["cursor"] == newest == 4  # three notifications and one read


def test_pagination_walks_every_page_once(client: FlaskClient, world: World) -> None:
    ids = [send(world.alice, f"n{i}") for i in range(25)]
    seen: list[int] = []
    pages = 0
    url = f"{URL}?limit=10"
    while url:
        data = client.get(url, headers=world.alice_h).get_json()
        seen += [n["id"] for n in data["items"]]
        pages += 1
        url = f"{URL}?limit=10&before={data['next']}" if data["next"] else ""
    assert pages == 3
    assert seen == sorted(ids, reverse=True)


def test_limit_is_clamped_to_100(client: FlaskClient, world: World) -> None:
    for i in range(101):
        send(world.alice, f"n{i}")
    data = client.get(f"{URL}?limit=101", headers=world.alice_h).get_json()
    assert len(data["items"]) == 100 and data["next"] is not None
    assert len(client.get(URL, headers=world.alice_h).get_json()["items"]) == 20


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("limit=0", 422, "validation_error", "limit"),
        ("limit=-5", 422, "validation_error", "limit"),
        ("limit=ten", 422, "validation_error", "limit"),
        ("status=archived-ish", 422, "validation_error", "status"),
        ("priority=extreme", 422, "validation_error", "priority"),
        ("since=yesterday", 422, "validation_error", "since"),
        ("group=yes", 422, "validation_error", "group"),
        ("before=abc", 400, "bad_cursor", "before"),
        ("before=-1", 400, "bad_cursor", "before"),
        ("before=0", 400, "bad_cursor", "before"),
        ("before=1.5", 400, "bad_cursor", "before"),
    ],
)
def test_bad_list_queries(
    client: FlaskClient, world: World, query: str, status: int, code: str, field: str
) -> None:
    resp = client.get(f"{URL}?{query}", headers=world.alice_h)
    assert resp.status_code == status
    error = resp.get_json()["error"]
    assert error["code"] == code and field in error["fields"]


def test_filters_match_type_tag_and_status_exactly(client: FlaskClient, world: World) -> None:
    ci = send(world.alice, "ci", tags=["ci"])
    cicd = send(world.alice, "cicd", tags=["cicd"])
    deploy = send(world.alice, "deploy", type="deploy", tags=["ci", "prod"])
    underscore = send(world.alice, "like", tags=["c_"])
    client.post(f"{URL}/{cicd}/read", headers=world.alice_h)

    def ids(query: str) -> list[int]:
        return [
            n["id"] for n in client.get(f"{URL}?{query}", headers=world.alice_h).get_json()["items"]
        ]

    assert ids("tag=ci") == [deploy, ci]
    assert ids("tag=c_") == [underscore]  # _ is not a wildcard
    assert ids("tag=c%25") == []
    assert ids("type=deploy") == [deploy]
    assert ids("type=deplo") == []
    assert ids("status=read") == [cicd]
    assert ids("status=unread&tag=ci") == [deploy, ci]
    assert ids("status=all") == [underscore, deploy, cicd, ci]


def test_get_mark_and_delete_one(client: FlaskClient, world: World) -> None:
    nid = send(world.alice, "one")
    one = f"{URL}/{nid}"
    assert client.get(one, headers=world.alice_h).get_json()["id"] == nid
    read = client.post(f"{one}/read", headers=world.alice_h)
    assert read.status_code == 200 and read.get_json()["is_read"] is True
    assert read.get_json()["read_at"].endswith("Z")
    unread = client.post(f"{one}/unread", headers=world.alice_h)
    assert unread.status_code == 200 and unread.get_json()["is_read"] is False
    put = client.put(f"{one}/read", headers=world.alice_h)
    assert put.status_code == 200 and put.get_json()["is_read"] is True
    assert client.get(f"{URL}/stats", headers=world.alice_h).get_json() == {
        "total": 1,
        "unread": 0,
        "read": 1,
        "unseen": 0,
        "archived": 0,
    }
    deleted = client.delete(one, headers=world.alice_h)
    assert deleted.status_code == 204 and deleted.data == b""
    assert client.get(one, headers=world.alice_h).status_code == 404
    assert client.delete(one, headers=world.alice_h).status_code == 404
    assert client.get(f"{URL}/stats", headers=world.alice_h).get_json()["total"] == 0


def test_read_all_counts_what_changed(client: FlaskClient, world: World) -> None:
    ids = [send(world.alice, f"n{i}") for i in range(3)]
    send(world.bob, "bob's")
    client.post(f"{URL}/{ids[0]}/read", headers=world.alice_h)
    resp = client.post(f"{URL}/read-all", headers=world.alice_h)
    assert resp.get_json() == {"updated": 2}
    assert client.get(f"{URL}/stats", headers=world.alice_h).get_json()["unread"] == 0
    assert client.get(f"{URL}/stats", headers=world.bob_h).get_json()["unread"] == 1


def test_bulk_reports_others_ids_as_not_found(client: FlaskClient, world: World) -> None:
    mine = [send(world.alice, f"n{i}") for i in range(2)]
    bobs = send(world.bob, "bob's")
    resp = client.post(
        f"{URL}/bulk",
        headers=world.alice_h,
        json={"action": "delete", "ids": [*mine, bobs, 999_999]},
    )
    assert resp.get_json() == {"updated": 2, "not_found": [bobs, 999_999]}
    assert client.get(f"{URL}/stats", headers=world.alice_h).get_json()["total"] == 0
    assert client.get(f"{URL}/{bobs}", headers=world.bob_h).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "snooze", "ids": [1]}, "action"),
        ({"action": "read", "ids": "1,2"}, "ids"),
        ({"action": "read", "ids": [1, "2"]}, "ids"),
        ({"action": "read", "ids": list(range(1, 1002))}, "ids"),
        ({"action": "read"}, "ids"),
        ({"action": "read", "ids": [1], "all": True}, "all"),
    ],
)
def test_bad_bulk_requests(
    client: FlaskClient, world: World, body: dict[str, Any], field: str
) -> None:
    resp = client.post(f"{URL}/bulk", headers=world.alice_h, json=body)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
