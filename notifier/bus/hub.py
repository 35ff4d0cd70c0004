"""Hold this process's stream subscriptions and fan bus messages out to them.

The hub is the Python home of the ``NotificationBroadcaster``: ``{user_id: set[Subscription]}``,
one bounded mailbox per subscription (bus/subscription.py), the per-user and per-process
connection limits and the counts the status endpoints report. It is process-local; brokers
feed it (memory directly, Redis through one listener per process) and streams drain it.

Greenlet safety: gevent is cooperative and nothing here yields (a put never switches: the
readers it wakes run once this greenlet yields), so each method runs to completion; loops that
may remove subscriptions iterate a snapshot. :class:`Subscription` and its mailbox live in
bus/subscription.py (re-exported here).

Signals (blinker, sender is the hub), for metrics:

* ``connected(hub, subscription=sub)``
* ``disconnected(hub, subscription=sub, reason=str)``, exactly once per subscription
* ``broadcast(hub, messages=seq, deliveries=int, latency=float)``, where latency is
  ``time.time() - messages[0].published_at`` in seconds; ``messages`` may hold fan-outs
  (``bus.base.deliveries(messages)`` counts their entries)
* ``closing(hub, message=msg)`` for every close message, streams here or not (the token
  cache forgets the credential it names)
* ``resynced(hub)`` after a bus reconnect, when messages may have been lost

Each subscription records the credential that opened it; a close message (bus/control.py)
closes the subscriptions of a credential that died instead of being queued.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from blinker import Namespace

from notifier.bus.base import Fanout, Item
from notifier.bus.control import CLOSE_EVENT, CLOSE_REASON, Credential, matching
from notifier.bus.cut import Cut, Delivered
from notifier.bus.subscription import KINDS, Subscription

_signals = Namespace()
connected = _signals.signal("connected")
disconnected = _signals.signal("disconnected")
broadcast = _signals.signal("broadcast")
closing = _signals.signal("closing")
resynced = _signals.signal("resynced")

__all__ = ["KINDS", "Draining", "Hub", "Subscription", "TooManyConnections"]


class TooManyConnections(Exception):
    """Refuse a subscription over a limit; ``scope`` is "user" (429) or "process" (503)."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"too many stream connections ({scope} limit {limit})")
        self.scope = scope
        self.limit = limit


class Draining(TooManyConnections):
    """Refuse a subscription because this process is shutting down (503, come back soon)."""

    def __init__(self) -> None:
        Exception.__init__(self, "this process is draining for a restart")
        self.scope = "draining"
        self.limit = 0


def _put(subs: set[Subscription], message: Delivered, overflowed: list[Subscription]) -> int:
    """Queue ``message`` on each of ``subs``; collect the full ones; return the puts."""
    puts = 0
    for sub in subs:
        if sub.overflowed:
            continue
        if sub.queue.put(message):
            puts += 1
        else:
            sub.overflowed = True
            overflowed.append(sub)
    return puts


class Hub:
    """Track this process's subscriptions and deliver messages to them without blocking."""

    def __init__(
        self, queue_size: int = 256, max_per_user: int = 10, max_total: int = 10000
    ) -> None:
        self.queue_size = queue_size
        self.max_per_user = max_per_user
        self.max_total = max_total
        self._by_user: dict[int, set[Subscription]] = {}
        self._total = 0
        self.draining = False  # set by drain(): no new subscription from then on

    def subscribe(
        self,
        user_id: int,
        tenant_id: int,
        *,
        kind: str = "json",
        user_agent: str = "",
        credential: Credential | None = None,
    ) -> Subscription:
        """Open a subscription; raise TooManyConnections over a limit, Draining once draining."""
        if self.draining:
            raise Draining()
        subs = self._by_user.get(user_id)
        if subs is not None and len(subs) >= self.max_per_user:
            raise TooManyConnections("user", self.max_per_user)
        if self._total >= self.max_total:
            raise TooManyConnections("process", self.max_total)
        sub = Subscription(
            user_id,
            tenant_id,
            kind=kind,
            user_agent=user_agent,
            queue_size=self.queue_size,
            credential=credential,
        )
        self._by_user.setdefault(user_id, set()).add(sub)
        self._total += 1
        connected.send(self, subscription=sub)
        return sub

    def unsubscribe(self, sub: Subscription, reason: str = "unsubscribed") -> None:
        """Close and forget ``sub``; calling it again does nothing."""
        sub.close(reason)
        subs = self._by_user.get(sub.user_id)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if not subs:
            del self._by_user[sub.user_id]
        self._total -= 1
        disconnected.send(self, subscription=sub, reason=sub.close_reason)

    def deliver(self, messages: Sequence[Item]) -> int:
        """Queue each message on its user's subscriptions; return how many puts succeeded.

        Never blocks: a full queue marks its subscription overflowed and drops it, so the
        client reconnects and replays from its cursor instead of slowing everyone else.
        A :func:`close_message` is never queued: it closes the subscriptions it names.
        A :class:`~notifier.bus.base.Fanout` becomes one :class:`~notifier.bus.cut.Cut` (a
        Message built on demand) per entry whose user has a subscription here, and only for
        those (one dict lookup per other recipient).
        """
        puts = 0
        overflowed: list[Subscription] = []
        revoked: list[Subscription] = []
        by_user = self._by_user
        for message in messages:
            if isinstance(message, Fanout):
                for entry in message.entries:
                    subs = by_user.get(entry[0])
                    if subs:
                        puts += _put(subs, Cut(message, entry), overflowed)
                continue
            subs = by_user.get(message.user_id)
            if message.event == CLOSE_EVENT:
                if closing.receivers:
                    closing.send(self, message=message)
                if subs:
                    revoked.extend(matching(subs, message.data))
                continue
            if subs:
                puts += _put(subs, message, overflowed)
        # Removed after the loop: the sets must not change while they are iterated.
        for sub in overflowed:
            self.unsubscribe(sub, "overflow")
        for sub in revoked:
            self.unsubscribe(sub, CLOSE_REASON)
        if messages and broadcast.receivers:
            latency = time.time() - messages[0].published_at
            broadcast.send(self, messages=messages, deliveries=puts, latency=latency)
        return puts

    def close_streams(self, user_id: int, credential: Credential | None = None) -> int:
        """Close this process's streams of ``user_id`` (those of ``credential`` only, if given)."""
        subs = matching(self._by_user.get(user_id, ()), {"credential": credential})
        for sub in subs:
            self.unsubscribe(sub, CLOSE_REASON)
        return len(subs)

    def total_count(self) -> int:
        """Return the number of open subscriptions in this process."""
        return self._total

    def user_count(self, user_id: int) -> int:
        """Return how many subscriptions one user has open (the cluster bus unsubscribes at 0)."""
        return len(self._by_user.get(user_id, ()))

    def connected_user_ids(self) -> list[int]:
        """Return the users with at least one open subscription."""
        return list(self._by_user)

    def by_user(self) -> dict[int, int]:
        """Return {user_id: open subscriptions}."""
        return {user_id: len(subs) for user_id, subs in self._by_user.items()}

    def subscriptions(self) -> list[Subscription]:
        """Return a snapshot of every open subscription."""
        return [sub for subs in list(self._by_user.values()) for sub in list(subs)]

    def request_replay_all(self) -> None:
        """Flag every subscription for replay and wake it (after a bus reconnect)."""
        resynced.send(self)
        for sub in self.subscriptions():
            sub.needs_replay = True
            sub.wake()

    def close_all(self, reason: str) -> None:
        """Close and drop every subscription (process shutdown)."""
        for sub in self.subscriptions():
            self.unsubscribe(sub, reason)

    def drain(self, reason: str = "shutdown") -> int:
        """Refuse new subscriptions from now on and close every open one; return how many.

        Each stream, woken, writes its own jittered ``retry:`` and ends, so the clients of a
        restarting process come back spread over a few seconds rather than all at once.
        """
        self.draining = True
        closed = self._total
        self.close_all(reason)
        return closed

    def sweep(self, max_idle: float) -> int:
        """Drop subscriptions that are closed or silent for over ``max_idle`` seconds."""
        cutoff = time.time() - max_idle
        removed = 0
        for sub in self.subscriptions():
            if sub.closed or sub.last_seen < cutoff:
                self.unsubscribe(sub, "idle")
                removed += 1
        return removed
