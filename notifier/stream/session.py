"""Run one stream: the preamble, the replay of the event log after the cursor, then live.

Opening it (subscribe first, read the cursor, build the :class:`Stream`) is
notifier/stream/connect.py; a Stream holds plain data (ids, the app object), never the
request, and opens a short app context (or a bare pooled connection) only to read a page of
the event log.

Cursor rules (CONTRACT §6): each logged event is written at most once and in cursor order.
A live message at or below the last cursor written is skipped (it was replayed); one that
skips ahead means a message was lost or overtaken on the bus, so the gap is replayed from
the ``events`` table first; a subscription flagged ``needs_replay`` (the bus reconnected)
replays from its last cursor. An unusable cursor gets ``reset`` and the stream continues
from the current cursor.

Credentials (CONTRACT §8): the subscription records what opened it, so a close message
(logout, token revocation, deactivation) ends it; after a bus outage, when such a message
may have been lost, the stream checks its credential again before replaying.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import TimeoutError as PoolTimeout

from notifier import metrics
from notifier.bus.base import Message
from notifier.bus.control import CLOSE_REASON, Credential
from notifier.bus.hub import Hub, Subscription
from notifier.extensions import db
from notifier.models import Event
from notifier.service import inbox, sessions
from notifier.service import stats as stats_mod
from notifier.service.inbox import ROWS_MAX
from notifier.stream import conn
from notifier.stream.opening import Opening
from notifier.stream.render import Renderer, encoded
from notifier.stream.types import Types, filtered, skipped, wanted
from notifier.stream.wire import json_event, retry_hint, timestamp

PAGE = 500  # event-log rows per replay query; bounds one query and one write
DRAIN = 100  # queued messages written as one chunk when a burst is waiting
POOL_WAITS = 15  # pool timeouts a stream's read sits through before the stream gives up
T = TypeVar("T")


#: One page of a user's log with the inbox counts on each row, built once.
_PAGE = (
    select(Event.cursor, Event.kind, Event.payload, stats_mod.packed(bindparam("user_id")))
    .where(Event.user_id == bindparam("user_id"), Event.cursor > bindparam("after"))
    .order_by(Event.cursor)
    .limit(PAGE)
)
#: The inbox counts alone (a caught-up page has no row to carry them).
_STATS = select(stats_mod.packed(bindparam("user_id")))


def _patient(read: Callable[[], T]) -> T:
    """Run a stream's database read, sitting through up to POOL_WAITS pool timeouts.

    A request answers a full pool with 503 after NOTIFIER_DB_POOL_TIMEOUT (db_busy.py); a
    stream has already answered 200, and a read that gave up would end it with its events
    unsent (the bus reconnect makes every stream replay at once), so it waits its turn as
    long as SQLAlchemy's 30 s default let it before.
    """
    for _ in range(POOL_WAITS - 1):
        try:
            return read()
        except PoolTimeout:
            continue
    return read()


class _Unwatched:
    """Stands in for the Conn of a stream without a watched socket (its flag is unread)."""

    writing = False


class Stream:
    """Produce the bytes of one SSE connection (a generator the WSGI server drains)."""

    def __init__(
        self,
        app: Flask,
        hub: Hub,
        sub: Subscription,
        renderer: Renderer,
        opening: Opening,
        *,
        ping_interval: float,
        tcp: conn.Conn | None = None,
    ) -> None:
        self.app = app
        self.hub = hub
        self.sub = sub
        self.renderer = renderer
        self.opening = opening
        self.ping_interval = ping_interval
        self.tcp = tcp
        self.sent = opening.start  # the last cursor this client has (sent or resumed from)
        sub.last_cursor = self.sent
        self.types: Types = None  # notification types sent; None: all (stream/types.py)
        self._engine: Engine | None = None  # the app's, for replay pages (_load_bare)

    def run(self) -> Generator[bytes, None, None]:
        """Yield the preamble at once, then the replay, then live events until closed.

        One generator for the whole life of the stream, the live loop inline: each generator
        layer between the WSGI server and the idle ``get`` is a C frame in every idle stream's
        saved greenlet stack (tracemalloc: 5.4 KiB per stream with three layers and
        Werkzeug's encoding wrapper). ``flag.writing`` is True from a chunk's yield until the
        server asks for the next one (then it was written).
        """
        tcp = self.tcp
        flag: Any = tcp if tcp is not None else _Unwatched()
        flag.writing = True
        yield self._preamble()
        flag.writing = False
        self.sub.touch()
        if self.opening.resume:
            metrics.record_resume(self.hub)
            for chunk in self._replay():
                flag.writing = True
                yield chunk
                flag.writing = False
        sub, renderer = self.sub, self.renderer
        while True:
            item = sub.get(self.ping_interval)
            if sub.closed:
                flag.writing = True
                yield self._retry()  # shutdown or drop: come back after a jittered delay
                return
            if sub.needs_replay:  # the bus reconnected: anything may have been lost
                sub.needs_replay = False
                if not self._credential_live():  # ... a close message too
                    self.hub.unsubscribe(sub, CLOSE_REASON)
                    flag.writing = True
                    yield self._retry()
                    return
                for chunk in self._replay():
                    flag.writing = True
                    yield chunk
                    flag.writing = False
            if item is None:
                continue
            out: list[bytes] = []
            pinged = False
            for message in self._drain(item):
                cursor = message.cursor
                if cursor == 0:  # un-logged: ping or a broadcast notice
                    out.append(encoded(message, renderer))
                    pinged = pinged or message.event == "ping"
                    continue
                if cursor <= self.sent:
                    continue  # already written (replayed before it arrived)
                if cursor > self.sent + 1:  # a gap: replay it from the log, in order
                    if out:
                        flag.writing = True
                        yield b"".join(out)
                        flag.writing = False
                        out = []
                    for chunk in self._replay():
                        flag.writing = True
                        yield chunk
                        flag.writing = False
                    if cursor <= self.sent:
                        continue
                out.append(self._encode(message))
                self.sent = cursor
            if out:
                flag.writing = True
                yield out[0] if len(out) == 1 else b"".join(out)  # one event: no copy
                flag.writing = False
                self._wrote()
            if pinged and tcp is not None and conn.peer_closed(tcp.sock):
                return

    def close(self) -> None:
        """Free the subscription (the response ended, whatever the reason)."""
        conn.unregister(self.sub)
        self.hub.unsubscribe(self.sub, "closed")

    def _preamble(self) -> bytes:
        sub, opening, renderer = self.sub, self.opening, self.renderer
        connected = {
            "client_id": sub.client_id,
            "user_id": sub.user_id,
            "cursor": self.sent,
            "timestamp": timestamp(),
        }
        # The id lets a client that drops before any event resume exactly from here.
        hook = getattr(renderer, "connected", None)  # a transport with its own framing
        if hook is not None:
            first = hook(connected, self.sent)
        else:
            first = json_event("connected", connected, id=self.sent)
        parts = [self._retry(), first]
        if opening.reset is not None:
            parts.append(renderer.reset(opening.reset))
        if opening.recent is not None:
            parts.append(renderer.recent(opening.recent))
        if opening.stats is not None:
            parts.append(renderer.stats(opening.stats))
        return b"".join(parts)

    def _retry(self) -> bytes:
        """Return the reconnect hint (SSE's ``retry:``; a renderer may frame it otherwise)."""
        hook = getattr(self.renderer, "retry", None)
        return hook() if hook else retry_hint()

    def _encode(self, message: Message) -> bytes:
        """Encode one live message, or only advance the cursor of an unwanted notification."""
        if self.types is None or wanted(message, self.types):
            return encoded(message, self.renderer)
        return skipped(message, self.renderer)

    def _wrote(self) -> None:
        self.sub.touch()
        self.sub.last_cursor = self.sent

    def _credential_live(self) -> bool:
        credential = self.sub.credential
        if credential is None:
            return True
        return _patient(lambda: self._check_credential(credential))

    def _check_credential(self, credential: Credential) -> bool:
        with self.app.app_context():
            return sessions.credential_live(self.sub.user_id, credential)

    def _load(self, after: int) -> tuple[list[Message], dict[str, int] | None]:
        """Read one page of the log, waiting through a full pool (see :func:`_patient`)."""
        return _patient(lambda: self._load_page(after))

    def _load_page(self, after: int) -> tuple[list[Message], dict[str, int] | None]:
        """Read one page of the log after ``after``; stats too when it is the last page."""
        if not self.renderer.needs_rows:
            return self._load_bare(after)
        sub = self.sub
        with self.app.app_context():  # short: the session is removed when it pops
            # The inbox counts ride on every row as an uncorrelated subquery, which the
            # database evaluates once: a page with events needs no separate stats query.
            rows = db.session.execute(_PAGE, {"user_id": sub.user_id, "after": after}).all()
            stats = None
            if len(rows) < PAGE:
                stats = stats_mod.unpack(rows[0][3]) if rows else inbox.stats(sub.user_id)
            events = [(c, k, p) for c, k, p, _ in rows]
            changed = self._rows(events) if self.renderer.needs_rows else {}
        messages = [
            Message(sub.user_id, sub.tenant_id, int(c), k, p, rows=changed.get(int(c)))
            for c, k, p in events
        ]
        return messages, stats

    def _load_bare(self, after: int) -> tuple[list[Message], dict[str, int] | None]:
        """Read a page on a bare pooled connection: no app context, no ORM session.

        For renderers that need no rows (JSON, WebSocket): pushing an app context and
        tearing its session down was a third of a resume's replay read in a storm profile.
        """
        sub, engine = self.sub, self._engine
        if engine is None:
            with self.app.app_context():
                engine = self._engine = db.engine
        params = {"user_id": sub.user_id, "after": after}
        with engine.connect() as connection:  # closing it rolls the read back, as teardown did
            rows = connection.execute(_PAGE, params).all()
            stats = None
            if len(rows) < PAGE:
                packed = rows[0][3] if rows else connection.execute(_STATS, params).scalar()
                stats = stats_mod.unpack(None if packed is None else str(packed))
        messages = [Message(sub.user_id, sub.tenant_id, int(c), k, p) for c, k, p, _ in rows]
        return messages, stats

    def _rows(self, events: Sequence[Any]) -> dict[int, list[dict[str, Any]]]:
        """Read the current rows of the page's updates in one query (as live ones carry)."""
        wanted: dict[int, list[int]] = {}
        for cursor, kind, payload in events:
            ids = payload.get("ids") or []
            if kind == "update" and payload.get("action") != "delete" and len(ids) <= ROWS_MAX:
                wanted[int(cursor)] = [int(i) for i in ids]
        if not wanted:
            return {}
        found = inbox.visible_rows(
            self.sub.user_id, sorted({i for v in wanted.values() for i in v})
        )
        by_id = {int(r["id"]): r for r in found}
        return {c: [by_id[i] for i in ids if i in by_id] for c, ids in wanted.items()}

    def _replay(self) -> Iterator[bytes]:
        """Write every logged event after ``self.sent``, page by page, then fresh stats."""
        replayed = 0
        while True:
            messages, stats = self._load(self.sent)
            chunk = filtered(messages, self.types, self.renderer) if messages else b""
            if messages:
                self.sent = messages[-1].cursor
                replayed += len(messages)
            if stats is not None:
                chunk += self.renderer.stats(stats)
            if chunk:
                yield chunk
                self._wrote()
            if stats is not None:
                break
        metrics.record_replayed(self.hub, replayed)

    def _drain(self, first: Message) -> list[Message]:
        """Take what else is queued already, so a burst goes out as one write."""
        more = self.sub.queue.take(DRAIN - 1)
        if not more:
            return [first]
        more.insert(0, first)
        return more
