"""One recipient's view of a tenant fan-out: what the hub queues instead of a built Message.

A broadcast to N local users used to cost N :class:`~notifier.bus.base.Message` objects,
each with its own copy of the payload and a stats dict, before any byte was written: a
third of the hub's delivery time and most of the garbage that made the cyclic collector run
during a fan-out (issue 10: 3 to 4 container allocations per recipient, a generation-1
collection every few broadcasts). A :class:`Cut` holds the fan-out and the recipient's
compact entry and answers every attribute a Message has; ``data`` and ``stats`` are built
only when something reads them (the HTML renderer, a type filter, a test), never for the
JSON and WebSocket streams, whose renderers splice the entry's numbers into the fan-out's
shared encoding. The bytes of the last renderer kind are kept on the cut itself, so a user's
other tabs reuse them and no process-wide cache keeps thousands of cuts alive.
"""

from __future__ import annotations

from typing import Any

from notifier.bus.base import Entry, Fanout, Message


class Cut(Message):
    """A fan-out entry read as a Message: same attributes, payload and stats built on demand.

    A subclass, so every renderer and filter typed for Message takes it; its properties
    shadow the dataclass fields (whose slots stay unused), and it is mutable only in its
    own slots (the renderers' byte memo), never in a Message field.
    """

    __slots__ = ("_part", "entry", "_data", "_stats", "encoder", "encoded")

    # The generic setter, not the frozen dataclass's Python one: the memo is set per delivery.
    __setattr__ = object.__setattr__

    def __init__(self, part: Fanout, entry: Entry) -> None:  # noqa: D107 - see the class
        self._part = part
        self.entry = entry
        self._data: dict[str, Any] | None = None
        self._stats: dict[str, int] | None = None
        #: The renderer ``encoded`` was made by (stream/render.py fills both).
        self.encoder: object = None
        self.encoded = b""

    def __eq__(self, other: object) -> bool:
        """Equal to the Message :meth:`Fanout.message` would have built (``part`` aside)."""
        if not isinstance(other, Message):
            return NotImplemented
        return _compared(self) == _compared(other)

    __hash__ = Message.__hash__

    def __repr__(self) -> str:
        return f"<Cut {self._part.key} user={self.entry[0]} cursor={self.entry[1]}>"

    @property
    def part(self) -> Fanout:
        """The fan-out this recipient's event was cut from."""
        return self._part

    @property
    def user_id(self) -> int:
        """The recipient."""
        return self.entry[0]

    @property
    def cursor(self) -> int:
        """The recipient's event-log cursor of this event."""
        return self.entry[1]

    @property
    def tenant_id(self) -> int:
        """The fan-out's tenant."""
        return self._part.tenant_id

    @property
    def event(self) -> str:
        """The SSE event name (``notification``)."""
        return self._part.event

    @property
    def published_at(self) -> float:
        """When the fan-out was published (epoch seconds)."""
        return self._part.published_at

    @property
    def rows(self) -> None:
        """Never carried: a fan-out only carries notifications."""
        return None

    @property
    def data(self) -> dict[str, Any]:
        """The recipient's payload: the shared one with their own notification id."""
        if self._data is None:
            shared, nid = self._part.data, self.entry[2]
            self._data = {"id": nid, **shared} if "id" not in shared else {**shared, "id": nid}
        return self._data

    @property
    def stats(self) -> dict[str, int]:
        """The recipient's inbox counts right after the broadcast."""
        if self._stats is None:
            _, _, _, total, unread, unseen, archived = self.entry
            self._stats = {
                "total": total,
                "unread": unread,
                "read": total - unread,
                "unseen": unseen,
                "archived": archived,
            }
        return self._stats


def _compared(m: Message) -> tuple[Any, ...]:
    return (m.user_id, m.tenant_id, m.cursor, m.event, m.data, m.stats, m.published_at, m.rows)


#: What a subscription's mailbox holds (a Cut is a Message).
Delivered = Message
