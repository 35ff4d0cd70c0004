"""Serve the Python floor: bare gevent SSE, no auth, no storage (CONTRACT §12).

``python -m bench.floor PORT``. ``GET /stream?user=U&tenant=T`` holds a stream (``Last-Event-ID``
replays that user's in-memory log); ``POST /publish`` with ``{"user_id": U}`` or
``{"tenant": T}`` plus a title gives each recipient the next cursor and writes the event to its
streams at once. What Notifier adds on top of this (auth, SQL, rendering) is what we measure.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import gevent.queue  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

streams: dict[int, set[gevent.queue.Queue]] = defaultdict(set)
tenants: dict[int, set[int]] = defaultdict(set)
logs: dict[int, list[bytes]] = defaultdict(list)  # event i has cursor i + 1


def sse(user: int, cursor: int, title: str) -> bytes:
    """Encode one notification event."""
    data = json.dumps({"id": cursor, "type": "bench", "title": title}, separators=(",", ":"))
    return f"id: {cursor}\nevent: notification\ndata: {data}\n\n".encode()


def publish(env: dict, start) -> list[bytes]:
    """Append one event per recipient to its log and hand it to its open streams."""
    doc = json.loads(env["wsgi.input"].read(int(env.get("CONTENT_LENGTH") or 0)))
    users = tenants[doc["tenant"]] if "tenant" in doc else [doc["user_id"]]
    for user in users:
        log = logs[user]
        log.append(sse(user, len(log) + 1, doc["title"]))
        for queue in streams[user]:
            queue.put_nowait(log[-1])
    body = json.dumps({"count": len(users)}).encode()
    start("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def stream(env: dict, start):
    """Hold one SSE stream: replay after Last-Event-ID, then live events."""
    args = parse_qs(env.get("QUERY_STRING", ""))
    user, tenant = int(args["user"][0]), int(args["tenant"][0])
    tenants[tenant].add(user)
    queue: gevent.queue.Queue = gevent.queue.Queue()
    streams[user].add(queue)
    after = env.get("HTTP_LAST_EVENT_ID")  # no cursor: live events only, as Notifier
    start("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
    try:
        yield b": connected\n\n" + (b"".join(logs[user][int(after) :]) if after else b"")
        while True:
            yield queue.get()
    finally:
        streams[user].discard(queue)


def app(env: dict, start):
    """Route the two endpoints."""
    if env["PATH_INFO"] == "/publish":
        return publish(env, start)
    return stream(env, start)


class Server(WSGIServer):
    """pywsgi writes the head and the body apart: without TCP_NODELAY each POST waits 40 ms."""

    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), app, log=None).serve_forever()
