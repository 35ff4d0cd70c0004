"""Let a gevent-patched pytest-xdist worker receive its tests (conftest.py calls this).

An xdist worker talks to the controller through execnet, whose reader is a native OS thread
started before conftest.py gevent-patches the process. xdist builds the worker's test queue
after the patch, from ``threading.RLock``/``threading.Event``, which by then are gevent's: the
main greenlet waits on a gevent Event that only the native reader thread sets, the hub has
nothing else to run, and the worker dies with ``LoopExit: This operation would block
forever`` before its first test. The queue gets a native lock (held only for a deque
operation, by either thread) and an Event whose wait polls cooperatively instead.
"""

from __future__ import annotations

import gevent
from execnet import gateway_base
from gevent import monkey

NativeRLock = monkey.get_original("_thread", "RLock")
POLL_S = 0.005  # between tests only: the controller answers a worker's request at once


class PollingEvent:
    """The part of ``threading.Event`` xdist uses, safe to set from a native thread."""

    def __init__(self) -> None:
        self._flag = False  # one attribute store: atomic under the GIL

    def is_set(self) -> bool:
        """Return the flag."""
        return self._flag

    def set(self) -> None:
        """Raise the flag; a waiter sees it within one poll."""
        self._flag = True

    def clear(self) -> None:
        """Lower the flag."""
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep cooperatively until the flag is up (or ``timeout`` passes); return it."""
        waited = 0.0
        while not self._flag and (timeout is None or waited < timeout):
            gevent.sleep(POLL_S)  # a timer keeps the hub alive and lets greenlets run
            waited += POLL_S
        return self._flag


def native_test_queue() -> None:
    """Make execnet's thread exec model hand out thread-safe primitives from now on."""
    model = gateway_base.MainThreadOnlyExecModel
    model.RLock = lambda self: NativeRLock()  # type: ignore[method-assign]
    model.Lock = lambda self: NativeRLock()  # type: ignore[method-assign]
    model.Event = lambda self: PollingEvent()  # type: ignore[method-assign]
