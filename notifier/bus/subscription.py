"""One stream's subscription: its bounded mailbox of messages and its connection state.

:class:`Mailbox` replaces ``gevent.queue.Queue`` for the one-reader, many-writer case the
hub has (issue 10, a broadcast to 1,000 streams): the queue cost three deques (2.3 KiB) per
idle stream, and every wake-up a Waiter, a Timeout with its own timer watcher and a hub
callback per queue. The mailbox is a list, one reusable timer and the reader's greenlet;
puts made in one greenlet run are woken by ONE hub callback (:class:`_Waker`) that switches
to each waiting reader in turn. It keeps the Queue methods callers use (``put_nowait``
raising ``gevent.queue.Full``, ``get``/``get_nowait`` raising ``Empty``, ``qsize``,
``empty``).

Greenlet safety: gevent is cooperative and nothing here yields except the reader in
:meth:`Mailbox.wait`; a reader is switched to only while it waits (``waiter`` is cleared
before the switch, so a late wake-up finds nobody or a later wait of the same reader, which
returns None, a spurious wake its callers already allow). All of a process's streams live in
one thread, as gevent's queues require.
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

from gevent import get_hub, getcurrent
from gevent.queue import Empty, Full

from notifier.bus.control import Credential
from notifier.bus.cut import Delivered
from notifier.timefmt import iso_epoch

KINDS = ("json", "html", "ws")


class _Waker:
    """Switch to every reader made ready since the last run, from one hub callback."""

    __slots__ = ("boxes", "loop")

    def __init__(self) -> None:
        self.boxes: list[Mailbox] = []
        self.loop: Any = None  # the loop a flush is scheduled on; None: none pending

    def add(self, box: Mailbox) -> None:
        self.boxes.append(box)
        loop = get_hub().loop
        if self.loop is not loop:  # also when a flush was left on a destroyed loop
            self.loop = loop
            loop.run_callback(self.flush)

    def flush(self) -> None:
        """Run in the hub: each reader writes and blocks again, then the next one runs."""
        self.loop = None
        boxes, self.boxes = self.boxes, []
        for box in boxes:
            box.kicked = False
            reader = box.waiter
            if reader is None:
                continue
            box.waiter = None
            try:
                reader.switch()
            except BaseException:  # a raw greenlet died: report it, wake the others
                get_hub().handle_error(reader, *sys.exc_info())


_WAKER = _Waker()


class Mailbox:
    """A bounded FIFO with one reader; puts never block and never switch."""

    __slots__ = ("items", "maxsize", "waiter", "kicked", "_timer", "_after")

    def __init__(self, maxsize: int) -> None:
        self.items: list[Delivered] = []
        self.maxsize = maxsize
        self.waiter: Any = None  # the reader's greenlet while it waits
        self.kicked = False  # queued on the waker already
        self._timer: Any = None
        self._after = 0.0

    def put(self, item: Delivered) -> bool:
        """Append ``item`` and wake the reader; False (nothing queued) when full."""
        items = self.items
        if len(items) >= self.maxsize:
            return False
        items.append(item)
        if self.waiter is not None and not self.kicked:
            self.kicked = True
            _WAKER.add(self)
        return True

    def put_nowait(self, item: Delivered) -> None:
        """Queue.put_nowait: append or raise ``gevent.queue.Full``."""
        if not self.put(item):
            raise Full

    def kick(self) -> None:
        """Wake the reader without an item (its wait returns None)."""
        if self.waiter is not None and not self.kicked:
            self.kicked = True
            _WAKER.add(self)

    def wait(self, timeout: float | None) -> Delivered | None:
        """Return the next item, or None after ``timeout`` seconds or a :meth:`kick`."""
        items = self.items
        if items:
            return items.pop(0)
        hub = get_hub()
        timer = None
        if timeout is not None:
            # One timer per mailbox, re-armed per wait: a Timeout per get was an object and a
            # watcher allocated and freed per delivered event.
            timer = self._timer
            if timer is None or self._after != timeout:
                if timer is not None:
                    timer.close()
                timer = self._timer = hub.loop.timer(timeout, timeout)
                self._after = timeout
            timer.again(self._expire)
        self.waiter = getcurrent()
        try:
            hub.switch()
        finally:
            self.waiter = None
            if timer is not None:
                timer.stop()
        items = self.items
        return items.pop(0) if items else None

    def _expire(self) -> None:
        reader = self.waiter
        if reader is not None:
            self.waiter = None
            reader.switch()

    def take(self, n: int) -> list[Delivered]:
        """Remove and return up to ``n`` queued items, oldest first, without waiting."""
        items = self.items
        if len(items) <= n:
            self.items = []
            return items
        out = items[:n]
        del items[:n]
        return out

    def get(self, block: bool = True, timeout: float | None = None) -> Delivered:
        """Queue.get: the next item; raise ``gevent.queue.Empty`` when none came in time."""
        if not block:
            return self.get_nowait()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self.get_nowait()
            item = self.wait(left)
            if item is not None:
                return item

    def get_nowait(self) -> Delivered:
        """Queue.get_nowait: the next item or ``gevent.queue.Empty``."""
        if not self.items:
            raise Empty
        return self.items.pop(0)

    def qsize(self) -> int:
        """Return how many items are queued."""
        return len(self.items)

    def empty(self) -> bool:
        """Return True when nothing is queued."""
        return not self.items

    def close(self) -> None:
        """Free the timer (the subscription ended)."""
        if self._timer is not None:
            self._timer.close()
            self._timer = None


class Subscription:
    """Buffer one stream's messages in a bounded mailbox and carry its connection state.

    The stream loop reads with :meth:`get` and, after every call, checks ``closed`` (end the
    response) and ``needs_replay`` (replay from the event log, then clear it).
    """

    # Slots: 1,000s of idle streams each hold one (a __dict__ was ~0.6 KiB of it).
    __slots__ = (
        "client_id",
        "user_id",
        "tenant_id",
        "kind",
        "user_agent",
        "credential",
        "connected_at",
        "last_seen",
        "last_cursor",
        "overflowed",
        "closed",
        "close_reason",
        "needs_replay",
        "queue",
        "_woken",
        "__weakref__",
    )

    def __init__(
        self,
        user_id: int,
        tenant_id: int,
        *,
        kind: str = "json",
        user_agent: str = "",
        queue_size: int = 256,
        credential: Credential | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.client_id = uuid.uuid4().hex
        self.user_id = user_id
        self.tenant_id = tenant_id
        self.kind = kind
        self.user_agent = user_agent
        self.credential = credential
        self.connected_at = time.time()
        self.last_seen = self.connected_at
        self.last_cursor = 0
        self.overflowed = False
        self.closed = False
        self.close_reason = ""
        self.needs_replay = False
        self.queue = Mailbox(queue_size)
        self._woken = False

    def __repr__(self) -> str:
        return f"<Subscription {self.client_id} user={self.user_id} kind={self.kind}>"

    def get(self, timeout: float | None) -> Delivered | None:
        """Return the next message, or None on timeout, after wake() or once closed.

        None can also be spurious (a late wake-up); callers just check their flags.
        """
        if self.closed:
            return None
        if self._woken:
            self._woken = False
            return None
        item = self.queue.wait(timeout)
        if item is None:
            self._woken = False
        return None if self.closed else item

    def wake(self) -> None:
        """Make the current or next get() return None at once (replay or shutdown)."""
        self._woken = True
        self.queue.kick()

    def touch(self) -> None:
        """Record a successful write to the client (sweep() spares recent ones)."""
        self.last_seen = time.time()

    def close(self, reason: str) -> None:
        """Mark closed (the first reason wins) and wake the reader so the stream ends."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.wake()

    def meta(self) -> dict[str, Any]:
        """Return a JSON-able description for the admin and status endpoints."""
        return {
            "client_id": self.client_id,
            "user_id": self.user_id,
            "tenant_id": self.tenant_id,
            "kind": self.kind,
            "user_agent": self.user_agent,
            "connected_at": iso_epoch(self.connected_at),
            "last_cursor": self.last_cursor,
        }
