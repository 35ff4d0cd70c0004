"""The subscription mailbox and the fan-out cut (issue 10's broadcast delivery path).

What a user would notice if it went wrong: a stream that never wakes for a broadcast, one
that wakes for another user's event, a recipient's bytes that differ from what the per-user
path wrote (id, cursor, counts), or a full queue that blocks the publisher.
"""

from __future__ import annotations

import gevent
import pytest
from gevent.queue import Empty, Full

from notifier.bus.base import Fanout, Message
from notifier.bus.cut import Cut
from notifier.bus.hub import Hub
from notifier.bus.subscription import Mailbox, Subscription
from notifier.stream.render import JSON, encoded
from notifier.stream.ws_render import WS


def _fanout(n: int = 3) -> Fanout:
    data = {"type": "system", "title": 'Ünïcode "q"', "tags": ["a"], "body": "x\ny"}
    entries = [(10 + i, 5 + i, 100 + i, 3 + i, 2, 1, 0) for i in range(n)]
    return Fanout(7, "notification", data, entries, key="k-mailbox")


def test_a_cut_reads_as_the_message_the_fanout_would_build() -> None:
    fanout = _fanout()
    for entry in fanout.entries:
        cut, whole = Cut(fanout, entry), fanout.message(entry)
        assert isinstance(cut, Message) and cut == whole and whole == cut
        for name in ("user_id", "tenant_id", "cursor", "event", "data", "stats", "rows"):
            assert getattr(cut, name) == getattr(whole, name), name
        assert cut.part is fanout and cut.to_dict() == whole.to_dict()
        with pytest.raises(AttributeError):
            cut.cursor = 1  # type: ignore[misc]


def test_a_cuts_bytes_equal_the_per_user_encoding_for_each_renderer() -> None:
    fanout = _fanout()
    for renderer in (JSON, WS):
        for entry in fanout.entries:
            whole = fanout.message(entry)
            plain = Message(whole.user_id, 7, whole.cursor, whole.event, whole.data, whole.stats)
            cut = Cut(fanout, entry)
            assert encoded(cut, renderer) == renderer.message(plain)
            assert encoded(cut, renderer) == renderer.message(plain)  # from the cut's memo


def test_every_waiting_reader_of_a_broadcast_wakes_with_its_own_event() -> None:
    hub = Hub()
    fanout = _fanout(3)
    subs = {uid: hub.subscribe(uid, 7) for uid in (10, 11, 12, 99)}
    readers = {uid: gevent.spawn(sub.get, 30) for uid, sub in subs.items()}
    gevent.sleep(0)  # every reader blocks in get()
    assert hub.deliver([fanout]) == 3
    got = {uid: readers[uid].get(timeout=5) for uid in (10, 11, 12)}
    assert {uid: (m.user_id, m.cursor, m.data["id"]) for uid, m in got.items()} == {
        10: (10, 5, 100),
        11: (11, 6, 101),
        12: (12, 7, 102),
    }
    assert not readers[99].ready()  # not a recipient: still waiting
    subs[99].wake()
    assert readers[99].get(timeout=5) is None


def test_a_full_mailbox_refuses_without_blocking_and_the_hub_drops_only_that_stream() -> None:
    box = Mailbox(2)
    msg = Message(1, 1, 1, "notification", {})
    box.put_nowait(msg)
    assert box.put(msg) is True and box.put(msg) is False
    with pytest.raises(Full):
        box.put_nowait(msg)
    assert box.qsize() == 2 and box.take(5) == [msg, msg] and box.empty()
    with pytest.raises(Empty):
        box.get_nowait()
    hub = Hub(queue_size=1)
    slow, other = hub.subscribe(1, 1), hub.subscribe(2, 1)
    hub.deliver([Message(1, 1, 1, "notification", {}), Message(1, 1, 2, "notification", {})])
    assert slow.closed and slow.close_reason == "overflow" and not other.closed


def test_a_reader_killed_while_waiting_leaves_the_mailbox_reusable() -> None:
    sub = Subscription(1, 1)
    reader = gevent.spawn(sub.get, 30)
    gevent.sleep(0)
    reader.kill()
    assert sub.queue.waiter is None
    sub.queue.put_nowait(Message(1, 1, 3, "notification", {}))
    got = gevent.spawn(sub.get, 30).get(timeout=5)
    assert got is not None and got.cursor == 3
    assert sub.get(0.01) is None  # a plain timeout
    with pytest.raises(Empty):
        sub.queue.get(timeout=0.01)
