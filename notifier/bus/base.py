"""Message and Broker interface: what every bus backend guarantees.

Guarantees (both backends; the contract suite in tests/test_bus_contract.py checks them):

* ``publish(messages)`` never blocks on a slow subscriber and never raises because the
  transport is down: it returns False instead, and the caller relies on the event log
  (every message's ``cursor`` is already committed) for the streams to catch up.
* A message reaches every local subscription of ``message.user_id`` at most once, in the
  order the publisher published it. A :class:`Fanout` (a tenant broadcast: one item, the
  shared payload once) reaches each of its recipients' local subscriptions as that user's
  own Message, with the same guarantees. Delivery is best effort: a lost message is detected by
  the stream as a cursor gap and replayed from the event log, so the bus never needs to
  persist anything.
* A subscription's queue is bounded. When it is full the subscription is marked
  ``overflowed`` and closed; the stream ends and the client resumes from its cursor.
* A close message (bus/control.py) reaches every process's hub like an event and closes
  the local subscriptions of the user opened with the credential it names; it is never
  queued to a stream.
* Presence: ``online(user_id)`` is True while the user has an open subscription in this
  process or, within the TTL of its last ``publish_presence``, in any other (workflows'
  ``unless: connected``). Memory answers from the local hub alone.
* After the transport reconnects, every local subscription is flagged ``needs_replay`` and
  woken, so streams replay what they may have missed during the outage.

The memory broker is single-process; the Redis broker spans processes and hosts.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from gevent import monkey

if TYPE_CHECKING:  # hub.py imports Message from here; a runtime import would be circular
    from notifier.bus.hub import Hub


@dataclass(frozen=True, slots=True)
class Message:
    """One event for one user, as it travels over the bus.

    ``cursor`` is the user's event-log cursor (0 for events that are not logged).
    ``event`` is the SSE event name (notification, update). ``data`` is its JSON payload;
    ``stats`` is the user's {total, unread, read} right after the change, taken in the same
    transaction, so streams never query the database per event. ``rows`` are the changed
    notifications of an ``update`` (as ``notification_dict`` shapes them), taken from the
    writer's ``RETURNING``, so a renderer that shows them needs no query either; None when
    the writer did not attach them (too many, a delete, or a message rebuilt from the log).
    """

    user_id: int
    tenant_id: int
    cursor: int
    event: str
    data: dict[str, Any]
    stats: dict[str, int] | None = None
    published_at: float = field(default_factory=time.time)
    rows: list[dict[str, Any]] | None = None
    #: The :class:`Fanout` this message was cut from (the hub sets it): renderers encode the
    #: shared part once per process from it and splice in this user's id and cursor. Local
    #: only, never on the wire.
    part: Fanout | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form used on the wire between processes."""
        return {
            "u": self.user_id,
            "t": self.tenant_id,
            "c": self.cursor,
            "e": self.event,
            "d": self.data,
            "s": self.stats,
            "p": self.published_at,
            "r": self.rows,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Message:
        """Rebuild a message from :meth:`to_dict` output."""
        return cls(
            user_id=int(raw["u"]),
            tenant_id=int(raw["t"]),
            cursor=int(raw["c"]),
            event=str(raw["e"]),
            data=raw["d"],
            stats=raw.get("s"),
            published_at=float(raw.get("p") or time.time()),
            rows=raw.get("r"),
        )


#: One fan-out entry: (user_id, cursor, notification_id, total, unread, unseen, archived).
Entry = tuple[int, int, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Fanout:
    """One logged event for many users of a tenant: the shared payload once, compact entries.

    A tenant broadcast travels as ONE of these instead of one :class:`Message` per user.
    ``data`` is the payload every recipient shares; each entry carries what differs: the
    user, their cursor, the id of their inbox row (``data["id"]`` for them) and their inbox
    counts. The hub cuts a :class:`Message` per entry only for users with a subscription in
    this process (:meth:`message`); ``key`` names the broadcast across processes and
    payloads (the cluster bus splits it by user channel), so renderers encode the shared
    part once per process and kind.
    """

    tenant_id: int
    event: str
    data: dict[str, Any]
    entries: Sequence[Entry]
    key: str
    published_at: float = field(default_factory=time.time)

    @property
    def user_ids(self) -> list[int]:
        """Return the recipients in entry order."""
        return [e[0] for e in self.entries]

    def message(self, entry: Entry) -> Message:
        """Return the per-user message of one entry (its ``part`` is this fan-out)."""
        user_id, cursor, nid, total, unread, unseen, archived = entry
        stats = {
            "total": total,
            "unread": unread,
            "read": total - unread,
            "unseen": unseen,
            "archived": archived,
        }
        data = {"id": nid, **self.data} if "id" not in self.data else {**self.data, "id": nid}
        return Message(
            user_id,
            self.tenant_id,
            cursor,
            self.event,
            data,
            stats,
            self.published_at,
            part=self,
        )

    def messages(self) -> list[Message]:
        """Return every entry as a Message (what the per-user path would have published)."""
        return [self.message(e) for e in self.entries]

    def shared_dict(self) -> dict[str, Any]:
        """Return the wire form without the entries (encoded once, entries appended)."""
        return {
            "t": self.tenant_id,
            "e": self.event,
            "d": self.data,
            "k": self.key,
            "p": self.published_at,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form used on the wire between processes."""
        return {**self.shared_dict(), "x": [list(e) for e in self.entries]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Fanout:
        """Rebuild a fan-out from :meth:`to_dict` output."""
        entries = [tuple(int(v) for v in e) for e in raw["x"]]
        if any(len(e) != 7 for e in entries):
            raise ValueError("a fan-out entry has 7 fields")
        if not isinstance(raw["d"], dict):
            raise ValueError("a fan-out's data is an object")
        return cls(
            tenant_id=int(raw["t"]),
            event=str(raw["e"]),
            data=raw["d"],
            entries=cast("list[Entry]", entries),
            key=str(raw["k"]),
            published_at=float(raw.get("p") or time.time()),
        )


#: What a broker carries: single-user messages and tenant fan-outs, in publish order.
Item = Message | Fanout


def encode_batch(messages: Sequence[Item]) -> str:
    """Encode messages as one JSON document (one PUBLISH carries a whole fan-out chunk)."""
    return json.dumps([m.to_dict() for m in messages], separators=(",", ":"))


def decode_batch(payload: str | bytes) -> list[Item]:
    """Decode :func:`encode_batch` output; raises ValueError on garbage."""
    raw = json.loads(payload)
    if not isinstance(raw, list):
        raise ValueError("bus payload is not a list")
    return [Fanout.from_dict(item) if "x" in item else Message.from_dict(item) for item in raw]


def deliveries(items: Sequence[Item]) -> int:
    """Return how many per-user events ``items`` stand for (a fan-out counts its entries)."""
    return sum(len(m.entries) if isinstance(m, Fanout) else 1 for m in items)


class Broker(ABC):
    """Carries messages from publishers to the hub of every process."""

    mode: str = "abstract"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @abstractmethod
    def publish(self, messages: Sequence[Item]) -> bool:
        """Hand messages to every process's hub; False when the transport is down."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Start background listeners (Redis); memory needs none. Blocks until ready."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop listeners and close connections."""

    def available(self) -> bool:
        """Return True when the transport is reachable (always for memory)."""
        return True

    def publish_node_stats(self, instance: str, stats: dict[str, Any], ttl: int) -> None:  # noqa: B027
        """Share this process's stats with the cluster (Redis only; memory keeps them local)."""

    def cluster_stats(self) -> list[dict[str, Any]]:
        """Return the stats every live process published, this one included when shared."""
        return []

    def publish_presence(self, instance: str, user_ids: Sequence[int], ttl: int) -> None:  # noqa: B027
        """Share the users connected to this process for ``ttl`` seconds (Redis only)."""

    def online(self, user_id: int) -> bool:
        """Return True when the user has a live stream here (or, shared, on any process)."""
        return self.hub.user_count(user_id) > 0


def require_patched(what: str) -> None:
    """Raise RuntimeError unless gevent has monkey-patched the socket module.

    A Redis-backed broker reads its sockets in greenlets; with the standard library's
    blocking sockets one read would stop the whole gevent loop, and every stream with it.
    """
    if not monkey.is_module_patched("socket"):
        raise RuntimeError(
            f"{what}: sockets are not gevent-patched; call gevent.monkey.patch_all() before "
            "anything else imports socket (app.py and gunicorn -k gevent do)"
        )
