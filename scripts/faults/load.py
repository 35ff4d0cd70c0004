"""The load: K SSE clients that resume with Last-Event-ID, and POSTs at a steady rate.

Every client runs in its own thread on tests/sse_client.py's raw-socket client and records each
logged event (cursor, the notification's title, arrival time), each cut and each reconnect.
Every POST carries an Idempotency-Key and a unique title; a POST that gets no answer, a 5xx, a
409 or a 429 is retried with the same key (1 s apart, 3 times), as an API client should.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from scripts.faults.accounting import RETRYABLE, Attempt, Connect, Cut, Post, Receipt
from tests.sse_client import SSEClient, SSEEvent

STREAM = "/api/v1/notifications/stream"


def request(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    token: str = "",
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """Send one request on a fresh connection; return (status, JSON body or text); 0 = none."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, None if body is None else json.dumps(body), hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return resp.status, parsed
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()


class Recorder:
    """What happened, shared by every thread (appends only, under one lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: list[Post] = []
        self.receipts: list[Receipt] = []
        self.cuts: list[Cut] = []
        self.connects: list[Connect] = []
        self.clients: dict[int, str] = {}

    def add(self, kind: str, item: Any) -> None:
        """Append ``item`` to the list named ``kind``."""
        with self.lock:
            getattr(self, kind).append(item)


class RecordingClient(SSEClient):
    """An SSEClient that also records each logged event's title and arrival time."""

    def __init__(self, cid: int, recorder: Recorder, *args: Any, **kw: Any) -> None:
        self.cid = cid
        self.recorder = recorder
        super().__init__(*args, **kw)

    def _record(self, event: SSEEvent) -> None:
        super()._record(event)
        if event.event in ("notification", "update") and event.id is not None:
            try:
                title = event.json().get("title")
            except ValueError:
                title = None
            self.recorder.add("receipts", Receipt(self.cid, int(event.id), title, time.monotonic()))


class StreamClient(threading.Thread):
    """One EventSource-like client: read, and on a cut reconnect with Last-Event-ID."""

    def __init__(self, cid: int, user: str, token: str, fronts: list[str], rec: Recorder) -> None:
        super().__init__(daemon=True, name=f"sse-{cid}")
        self.cid = cid
        self.fronts = fronts
        self.rec = rec
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.client = RecordingClient(
            cid, rec, fronts[cid % len(fronts)], STREAM,
            headers={"Authorization": f"Bearer {token}"}, connect=False,
        )  # fmt: skip
        rec.clients[cid] = user

    def _open(self, attempt: int) -> bool:
        # Without nginx, fail over between the hosts as a client-side load balancer would.
        front = urlsplit(self.fronts[(self.cid + attempt) % len(self.fronts)])
        self.client.host, self.client.port = front.hostname or "127.0.0.1", front.port or 80
        try:
            self.client.connect(timeout=10)
        except (OSError, ValueError):
            self.client.close()
            self.rec.add("connects", Connect(self.cid, time.monotonic(), 0))
            return False
        self.rec.add("connects", Connect(self.cid, time.monotonic(), self.client.status))
        if self.client.status != 200:
            self.client.close()
            return False
        return True

    def run(self) -> None:
        """Keep a stream open until stopped; EventSource's reconnect with the server's retry."""
        attempt = 0
        while not self.stopping.is_set():
            if not self._open(attempt):
                attempt += 1
                self.stopping.wait(min(5.0, 0.5 * attempt) * random.uniform(1.0, 1.5))
                continue
            attempt = 0
            self.connected.set()
            while not self.stopping.is_set() and not self.client.eof:
                try:
                    self.client.read(1.0)
                except (OSError, ValueError):
                    self.client.eof = True
            if self.stopping.is_set():
                break
            clean = self.client._chunk_left == -1
            self.rec.add("cuts", Cut(self.cid, time.monotonic(), clean))
            self.client.close()
            retry = (self.client.retry or 1000) / 1000
            self.stopping.wait(min(retry, 5.0) * random.uniform(1.0, 1.5))
        self.client.close()


class Poster(threading.Thread):
    """POST notifications at ``rate`` per second to random members until stopped."""

    def __init__(
        self, fronts: list[str], token: str, members: list[str], rec: Recorder, rate: float
    ) -> None:
        super().__init__(daemon=True, name="poster")
        self.fronts = fronts
        self.token = token
        self.members = members
        self.rec = rec
        self.rate = rate
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="post")
        self.seq = itertools.count()
        self.tag = "run"

    def run(self) -> None:
        """Schedule one POST every 1/rate seconds (late ones go at once, not skipped)."""
        start = time.monotonic()
        for i in itertools.count():
            due = start + i / self.rate
            if self.stopping.wait(max(0.0, due - time.monotonic())):
                break
            self.pool.submit(self.one, random.choice(self.members))
        self.pool.shutdown(wait=True)

    def one(
        self, user: str, key: str | None = None, title: str | None = None, tries: int = 4
    ) -> Post:
        """Send one POST, retrying with its key; record every attempt."""
        n = next(self.seq)
        post = Post(
            key=key or f"k-{uuid.uuid4().hex}",
            title=title or f"{self.tag}-{n}",
            user=user,
            sent_at=time.monotonic(),
        )
        self.rec.add("posts", post)
        self.attempt(post, tries)
        return post

    def attempt(self, post: Post, tries: int = 1) -> None:
        """Send ``post`` up to ``tries`` times while the answer is worth a retry."""
        body = {"email": post.user, "type": "comment", "title": post.title, "channels": ["in_app"]}
        for i in range(tries):
            front = self.fronts[(len(post.title) + len(post.attempts)) % len(self.fronts)]
            status, answer = request(
                front, "POST", "/api/v1/notifications", body, self.token,
                {"Idempotency-Key": post.key},
            )  # fmt: skip
            code = ""
            if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
                code = str(answer["error"].get("code", ""))
            post.attempts.append(Attempt(time.monotonic(), status, code))
            if status not in RETRYABLE or i == tries - 1:
                break
            time.sleep(1.0)


class Prober(threading.Thread):
    """GET ``path`` on each URL every ``interval`` seconds; record (t, url, status)."""

    def __init__(self, urls: list[str], path: str, interval: float = 0.5) -> None:
        super().__init__(daemon=True, name="prober")
        self.urls = urls
        self.path = path
        self.interval = interval
        self.samples: list[tuple[float, str, int, Any]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        """Probe until stopped."""
        while not self.stopping.is_set():
            for url in self.urls:
                status, body = request(url, "GET", self.path, timeout=3)
                self.samples.append((time.monotonic(), url, status, body))
            self.stopping.wait(self.interval)

    def stop(self) -> list[tuple[float, str, int, Any]]:
        """Stop and return the samples."""
        self.stopping.set()
        self.join(10)
        return self.samples
