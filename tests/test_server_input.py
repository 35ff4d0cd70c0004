"""Hostile request input against real servers: malformed request lines and chunked bodies.

- `python app.py` logs no stream token even when it refuses the request line (pywsgi quotes
  the raw line in its error messages and access log);
- a chunked body over NOTIFIER_MAX_BODY is 413 with the JSON error body and stores nothing,
  under `python app.py` and gunicorn alike (Werkzeug alone would cut it and accept it).
"""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient

from notifier.server_handler import redact_requestline
from tests.fixtures_live import LiveServer, http_json
from tests.sse_client import bearer, token_for
from tests.test_server_limits import closed_by_server, connect, read_response, wait_until

Factory = Callable[..., LiveServer]
ALICE = "alice@example.com"
STREAM = "/api/v1/notifications/stream"
LIMIT = 65536  # NOTIFIER_MAX_BODY's default


def test_redact_requestline_cuts_the_whole_query() -> None:
    assert redact_requestline("GET /s?token=a HTTP/1.1") == "GET /s?… HTTP/1.1"
    assert redact_requestline("GET /s?token=a b&c=d HTTP/9.9\r\n") == "GET /s?… HTTP/9.9\r\n"
    assert redact_requestline("POST /s?token=a") == "POST /s?…"
    assert redact_requestline("GET /healthz HTTP/1.1") == "GET /healthz HTTP/1.1"


def test_malformed_request_lines_log_no_token(live_server_factory: Factory) -> None:
    server = live_server_factory()
    lines = {
        "bad-version": b"GET %s?token=SECRET-V HTTP/9.9\r\n\r\n",
        "space-in-target": b"GET %s?token=SECRET-S x HTTP/1.1\r\n\r\n",
        "space-before-token": b"GET %s?a=b c&token=SECRET-B HTTP/1.1\r\n\r\n",
        "two-words": b"POST %s?token=SECRET-T\r\n\r\n",
        "not-a-version": b"GET %s?token=SECRET-N HTTP/x.y\r\n\r\n",
        "too-long": b"GET %s?token=SECRET-L" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
        "bad-length": b"GET %s?token=SECRET-C HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        "well-formed": b"GET %s?token=SECRET-W HTTP/1.1\r\nHost: x\r\n\r\n",
    }
    statuses = {}
    for name, line in lines.items():
        with connect(server, line.replace(b"%s", STREAM.encode())) as sock:
            statuses[name] = read_response(sock)[0]
    assert statuses == {**dict.fromkeys(lines, 400), "too-long": 414, "well-formed": 401}
    # pywsgi writes the access line after sending the answer: wait for all of them.
    assert wait_until(
        lambda: server.log().count(f'"GET {STREAM}') + server.log().count('"POST') >= 8
    )
    log = server.log()
    assert "SECRET" not in log, log
    assert "Invalid http version" in log  # the error lines are still written, just without it


def post_chunked(server: LiveServer, token: str, chunks: Iterator[bytes]) -> tuple[int, dict]:
    """POST a chunked JSON body to /api/v1/notifications; return (status, parsed body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/api/v1/notifications",
            body=chunks,
            headers={
                **bearer(token),
                "Content-Type": "application/json",
                "Transfer-Encoding": "chunked",
            },
            encode_chunked=True,
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def padded(title: str, size: int) -> Iterator[bytes]:
    """Yield a valid publish body padded with whitespace to ``size`` bytes, in 8 KB chunks."""
    doc = json.dumps({"email": ALICE, "type": "comment", "title": title, "channels": ["in_app"]})
    body = doc.encode() + b" " * (size - len(doc))
    for i in range(0, len(body), 8192):
        yield body[i : i + 8192]


def alice_titles(server: LiveServer, alice: str) -> list[str]:
    status, doc = http_json(
        "GET", server.url + "/api/v1/notifications?limit=100", headers=bearer(alice)
    )
    assert status == 200
    return [n["title"] for n in doc["items"]]


def chunked(client: FlaskClient, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """POST ``body`` with no Content-Length, as a de-chunking server hands it to the app."""
    headers = {"Transfer-Encoding": "chunked", "Content-Type": content_type}
    resp = client.post(path, input_stream=io.BytesIO(body), headers=headers)
    return resp.status_code, resp.data


def test_chunked_bodies_over_the_limit_are_413_for_api_and_pages(client: FlaskClient) -> None:
    # Over the limit: 413 before authentication (no token here), as with a Content-Length.
    over = b"{}" + b" " * LIMIT
    status, data = chunked(client, "/api/v1/notifications", over, "application/json")
    assert status == 413
    assert json.loads(data)["error"]["code"] == "payload_too_large"
    form = b"email=a%40example.com&password=" + b"x" * LIMIT
    assert chunked(client, "/login", form, "application/x-www-form-urlencoded")[0] == 413
    # Within it the body reaches the app whole: here the missing token is what answers.
    status, data = chunked(client, "/api/v1/notifications", b"{}" + b" " * 100, "application/json")
    assert status == 401


@pytest.mark.parametrize("gunicorn_workers", [0, 1], ids=["app.py", "gunicorn"])
def test_a_chunked_body_over_the_limit_is_413_and_stores_nothing(
    live_server_factory: Factory, gunicorn_workers: int
) -> None:
    server = live_server_factory(seed=True, gunicorn_workers=gunicorn_workers)
    admin, alice = token_for(server, "admin@example.com"), token_for(server, ALICE)

    status, body = post_chunked(server, admin, padded("too big", LIMIT + 1))
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert "too big" not in alice_titles(server, alice)

    # The limit itself is fine, chunked or not: the body reaches the app whole.
    status, body = post_chunked(server, admin, padded("just fits", LIMIT))
    assert status == 201, body
    assert "just fits" in alice_titles(server, alice)


def test_an_endless_chunked_body_is_not_read_forever(live_server_factory: Factory) -> None:
    server = live_server_factory(seed=True)
    admin = token_for(server, "admin@example.com")
    head = (
        "POST /api/v1/notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {admin}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
    sent = 0
    with connect(server, head.encode()) as sock:
        try:
            while sent < 64 * 1024 * 1024:  # the server answers 413 and stops after about 1 MB
                sock.sendall(chunk)
                sent += len(chunk)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 16 * 1024 * 1024, f"the server read {sent} bytes of a refused body"
        assert closed_by_server(sock)
