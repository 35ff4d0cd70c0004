"""How many SQL statements opening a stream costs (issue 10: leaner stream connects).

With the bearer token and its user cached (service/token_cache.py), a fresh stream reads its
cursor with the inbox counts (one statement) and the recent unread list; a resume reads its
cursor and then one page of the log that carries the counts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notifier.extensions import db
from notifier.service import activity
from tests.factories import World, make_world, send
from tests.sse_client import Tab, names
from tests.test_notify_sql import counting

URL = "/api/v1/notifications/stream"


@pytest.fixture
def tabs() -> Iterator[list[Tab]]:
    """Close every Tab a test opens."""
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.close()


@pytest.fixture
def world(any_app: Flask) -> World:
    """The test world on SQLite and on PostgreSQL (the statements differ per dialect)."""
    return make_world()


@pytest.fixture
def client(any_app: Flask) -> FlaskClient:
    """A test client of the app on either database."""
    return any_app.test_client()


def warm(client: FlaskClient, world: World, *, connected: bool = True) -> None:
    """Cache alice's token and user snapshot, as any earlier request of hers does.

    ``connected``: she already opened a stream this hour, so this opening records no
    activity (send-time optimisation learns one connect per user per hour and process).
    """
    for _ in range(2):
        assert client.get("/api/v1/me", headers=world.alice_h).status_code == 200
    if connected:
        assert activity.connected(client.application, world.alice.id)
    db.session.remove()


def test_a_fresh_stream_costs_two_statements(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    send(world.alice, "old")
    warm(client, world)
    with counting() as c:
        tab = Tab(client, URL, headers=world.alice_h)
        tabs.append(tab)
        first = tab.read()
    assert names(first) == ["connected", "recent", "stats"]
    assert first[2].json()["unread"] == 1
    assert (len(c.statements), c.commits) == (2, 0), c.statements


def test_a_fresh_stream_with_nothing_unread_costs_one_statement(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    nid = send(world.alice, "read already")
    read = client.post(f"/api/v1/notifications/{nid}/read", headers=world.alice_h)
    assert read.status_code == 200
    warm(client, world)
    with counting() as c:
        tab = Tab(client, URL, headers=world.alice_h)
        tabs.append(tab)
        first = tab.read()
    assert names(first) == ["connected", "recent", "stats"]
    assert first[1].json() == {"notifications": []}
    assert (first[2].json()["total"], first[2].json()["unread"]) == (1, 0)
    assert (len(c.statements), c.commits) == (1, 0), c.statements


def test_a_resume_costs_two_statements_and_carries_the_stats(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    for i in range(3):
        send(world.alice, f"n{i}")
    warm(client, world)
    with counting() as c:
        tab = Tab(client, URL, headers={**world.alice_h, "Last-Event-ID": "1"})
        tabs.append(tab)
        got = tab.read()
        while "stats" not in names(got):
            got += tab.read()
    assert names(got) == ["connected", "notification", "notification", "stats"]
    assert got[-1].json()["total"] == 3
    assert (len(c.statements), c.commits) == (2, 0), c.statements


def test_the_first_stream_of_the_hour_also_records_one_connect(
    client: FlaskClient, world: World, tabs: list[Tab]
) -> None:
    warm(client, world, connected=False)
    with counting() as c:
        tab = Tab(client, URL, headers=world.alice_h)
        tabs.append(tab)
        assert names(tab.read()) == ["connected", "recent", "stats"]
    upserts = [s for s in c.statements if "activity_hours" in s]
    # Nothing unread: the cursor with the counts and the upsert, no recent-list query.
    assert len(upserts) == 1 and (len(c.statements), c.commits) == (2, 1), c.statements
    with counting() as again:
        tab = Tab(client, URL, headers=world.alice_h)
        tabs.append(tab)
        tab.read()
    assert not [s for s in again.statements if "activity_hours" in s]
