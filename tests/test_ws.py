"""The WebSocket stream on a real `python app.py` server (CONTRACT §11), with websocket-client.

Same events, ids and order as the SSE stream; client ops; the same auth and limits; exactly-
once resume across kill -9 of the server (SQLite file); revocation and draining close the
socket with a code.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

from tests.fixtures_live import LiveServer, http_json
from tests.sse_client import bearer, publish, token_for
from tests.ws_client import WsClient, refused

ALICE = "alice@example.com"
Factory = Callable[..., LiveServer]


def test_events_ids_and_order_are_those_of_the_sse_stream(live_server: LiveServer) -> None:
    admin, alice = token_for(live_server, "admin@example.com"), token_for(live_server, ALICE)
    ws = WsClient(live_server.url, bearer(alice)).connect()
    try:
        first = [ws.recv(), ws.recv(), ws.recv()]
        assert [m["event"] for m in first if m] == ["connected", "recent", "stats"]
        assert first[0] and first[0]["id"] == 4 and first[0]["data"]["cursor"] == 4
        assert first[1] and len(first[1]["data"]["notifications"]) == 4
        stats = {"total": 4, "unread": 4, "read": 0, "unseen": 4, "archived": 0}
        assert "id" not in first[2] and first[2]["data"] == stats
        assert publish(live_server.url, admin, ALICE, "hello") == 201
        note, stats = ws.recv(), ws.recv()
        assert note and note["event"] == "notification" and note["id"] == 5
        assert note["data"]["title"] == "hello" and note["data"]["type"] == "comment"
        assert stats and stats["event"] == "stats" and stats["data"]["unread"] == 5
    finally:
        ws.close()


def test_client_ops_ping_read_subscribe_and_bad_messages(live_server: LiveServer) -> None:
    admin, alice = token_for(live_server, "admin@example.com"), token_for(live_server, ALICE)
    ws = WsClient(live_server.url, bearer(alice)).connect()
    try:
        ws.send({"op": "ping"})  # any first op opens the stream at once
        assert ws.until("pong")["data"] == {}
        ws.send("not json")
        assert ws.until("error")["data"]["code"] == "invalid_message"
        ws.send({"op": "fly"})
        assert ws.until("error")["data"]["code"] == "unknown_op"
        ws.send({"op": "read", "ids": "1"})
        assert ws.until("error")["data"]["code"] == "validation_error"
        ws.send({"op": "resume", "after": 0})
        assert ws.until("error")["data"]["code"] == "resume_not_first"
        ws.send({"op": "read", "ids": [1, 2, 999999]})
        assert ws.until("ack")["data"] == {"op": "read", "updated": 2, "not_found": [999999]}
        update = ws.until("update")
        assert update["id"] == 5 and update["data"] == {"action": "read", "ids": [1, 2]}
        stats = ws.until("stats")["data"]
        assert (stats["total"], stats["unread"], stats["read"]) == (4, 2, 2)
        # As the REST call: the read is stored.
        status, body = http_json(
            "GET", live_server.url + "/api/v1/notifications/stats", headers=bearer(alice)
        )
        assert status == 200 and body["unread"] == 2
        ws.send({"op": "subscribe", "types": ["billing"]})
        assert ws.until("subscribed")["data"] == {"types": ["billing"]}
        ws.send({"op": "subscribe", "types": ["bad type"]})
        assert ws.until("error")["data"]["code"] == "validation_error"
        assert publish(live_server.url, admin, ALICE, "a comment") == 201  # 6, not wanted
        assert ws.until("stats")["data"]["total"] == 5  # the counts still flow
        status, _ = http_json(
            "POST",
            live_server.url + "/api/v1/notifications",
            {"email": ALICE, "type": "billing", "title": "bill", "channels": ["in_app"]},
            headers=bearer(admin),
        )
        assert status == 201
        note = ws.until("notification")
        assert note["id"] == 7 and note["data"]["title"] == "bill"
        assert [m["data"]["title"] for m in ws.named("notification")] == ["bill"]
        # seen and archive, as the REST bulk calls: acknowledged, then the update on the cursor.
        ws.send({"op": "seen", "ids": [7]})
        assert ws.until("ack")["data"] == {"op": "seen", "updated": 1, "not_found": []}
        update = ws.until("update")
        assert update["id"] == 8 and update["data"]["action"] == "seen"
        ws.send({"op": "archive", "ids": [7]})
        assert ws.until("ack")["data"] == {"op": "archive", "updated": 1, "not_found": []}
        update = ws.until("update")
        assert update["id"] == 9 and update["data"]["action"] == "archive"
        assert ws.until("stats")["data"]["archived"] == 1
    finally:
        ws.close()


def test_auth_and_limits_are_those_of_the_stream(live_server_factory: Factory) -> None:
    server = live_server_factory({"NOTIFIER_MAX_CONNECTIONS_PER_USER": "1"}, seed=True)
    alice = token_for(server, ALICE)
    status, body = refused(server.url)
    assert status == 401 and body["error"]["code"]
    status, body = refused(server.url, bearer("ntf_wrong"))
    assert status == 401 and body["error"]["code"] == "invalid_token"
    status, body = refused(server.url, bearer(alice), query="types=bad%20type")
    assert status == 422 and "types" in body["error"]["fields"]
    # A stream token in the query, as for EventSource.
    status, minted = http_json("POST", server.url + "/api/v1/stream-token", headers=bearer(alice))
    query = urllib.parse.urlencode({"token": minted["token"]})
    ws = WsClient(server.url, query=query).connect()
    try:
        assert ws.until("connected")["data"]["cursor"] == 4
        status, body = refused(server.url, bearer(alice))  # over the per-user limit
        assert status == 429 and body["error"]["code"] == "too_many_connections"
    finally:
        ws.close()
    # A plain GET is told to upgrade (after authentication).
    status, body = http_json("GET", server.url + "/api/v1/notifications/ws", headers=bearer(alice))
    assert status == 426 and body["error"]["code"] == "upgrade_required"


def test_a_cookie_socket_from_another_origin_is_refused(live_server: LiveServer) -> None:
    from tests.test_stream_revoke_live import Browser

    browser = Browser()
    browser.sign_in(live_server.url)
    cookie = browser.cookie_header()
    status, body = refused(live_server.url, {**cookie, "Origin": "https://evil.example"})
    assert status == 403 and body["error"]["code"] == "bad_origin"
    ws = WsClient(live_server.url, {**cookie, "Origin": live_server.url}).connect()
    try:
        assert ws.until("stats")["data"]["total"] == 4
    finally:
        ws.close()


def test_resume_is_exactly_once_across_kill_9(live_server: LiveServer) -> None:
    admin, alice = token_for(live_server, "admin@example.com"), token_for(live_server, ALICE)
    ws = WsClient(live_server.url, bearer(alice)).connect()
    try:
        ws.until("stats")
        for i in range(20):
            assert publish(live_server.url, admin, ALICE, f"before {i}") == 201
        assert ws.wait_logged(20)
        live_server.kill()  # SIGKILL: no close frame, no cleanup
        while ws.recv() is not None:  # what was in flight, then the socket died with it
            pass
        live_server.start()
        for i in range(30):  # while the client is away
            assert publish(live_server.url, admin, ALICE, f"away {i}") == 201
        ws.reconnect()  # resume after the last id it has (24)
        assert ws.until("connected")["data"]["cursor"] == 24
        assert ws.wait_logged(50)
        assert publish(live_server.url, admin, ALICE, "live") == 201
        assert ws.wait_logged(51)
        print(f"ws kill -9: sent 51, got {len(ws.logged_ids)}, duplicates {ws.duplicates}")
        assert ws.logged_ids == list(range(5, 56))
        assert ws.duplicates == 0 and ws.backwards == 0 and ws.connections == 2
        assert "recent" not in [m["event"] for m in ws.messages[3:]]  # a resume has no recent
        # An unusable cursor opens the stream with reset, as on SSE.
        again = WsClient(live_server.url, bearer(alice)).connect(resume=10**9)
        try:
            assert again.until("reset")["data"] == {"reason": "unknown_cursor"}
        finally:
            again.close()
    finally:
        ws.close()


def test_revocation_and_draining_close_the_socket_with_a_code(live_server: LiveServer) -> None:
    from tests.test_stream_revoke_live import token_id

    alice, other = token_for(live_server, ALICE), token_for(live_server, ALICE)
    revoked = WsClient(live_server.url, bearer(alice)).connect()
    kept = WsClient(live_server.url, bearer(other)).connect()
    try:
        revoked.until("stats")
        kept.until("stats")
        ident = token_id(live_server.url, alice)
        status, _ = http_json(
            "DELETE", f"{live_server.url}/api/v1/tokens/{ident}", headers=bearer(alice)
        )
        assert status == 204
        assert revoked.wait_closed() == 4401
        status, _ = refused(live_server.url, bearer(alice))
        assert status == 401
        assert live_server.stop() == 0  # SIGTERM: drain
        assert kept.wait_closed() == 1012  # service restart: reconnect elsewhere
    finally:
        revoked.close()
        kept.close()


def test_gunicorn_gevent_worker_serves_the_socket_and_resumes(live_server_factory: Factory) -> None:
    server = live_server_factory(seed=True, gunicorn_workers=1)
    admin, alice = token_for(server, "admin@example.com"), token_for(server, ALICE)
    ws = WsClient(server.url, bearer(alice)).connect()
    try:
        ws.until("stats")
        assert publish(server.url, admin, ALICE, "one") == 201
        assert ws.wait_logged(1)
        ws.close()
        assert publish(server.url, admin, ALICE, "two") == 201
        ws.connect(resume=ws.last_id)
        assert ws.wait_logged(2)
        ws.send({"op": "ping"})
        assert ws.until("pong")
        assert ws.logged_ids == [5, 6] and ws.duplicates == 0
        # The worker still serves plain HTTP after sockets closed on it.
        stats_url = server.url + "/api/v1/notifications/stats"
        status, _ = http_json("GET", stats_url, headers=bearer(alice))
        assert status == 200
    finally:
        ws.close()


def test_erasing_the_user_closes_their_socket_and_no_other(live_server: LiveServer) -> None:
    alice, bob = token_for(live_server, ALICE), token_for(live_server, "bob@example.com")
    hers = WsClient(live_server.url, bearer(alice)).connect()
    his = WsClient(live_server.url, bearer(bob)).connect()
    try:
        hers.until("stats")
        his.until("stats")
        status, body = http_json(
            "DELETE", f"{live_server.url}/api/v1/me", {"password": "x"}, headers=bearer(alice)
        )
        assert status == 403 and body["error"]["code"] == "wrong_password"  # erases nothing
        his.send({"op": "ping"})
        assert his.until("pong")["event"] == "pong"
        status, _ = http_json(
            "DELETE",
            f"{live_server.url}/api/v1/me",
            {"password": "alice-demo-pass"},
            headers=bearer(alice),
        )
        assert status == 204
        assert hers.wait_closed() == 4401  # the credential is gone: do not reconnect
        assert refused(live_server.url, bearer(alice))[0] == 401
        his.send({"op": "ping"})
        assert his.until("pong")["event"] == "pong"  # bob's socket stays open
    finally:
        hers.close()
        his.close()
