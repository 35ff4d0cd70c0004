"""Run blocking socket calls from a greenlet without freezing the gevent loop.

In a monkey-patched process (app.py, gunicorn -k gevent) sockets are cooperative, so a
blocking call simply runs in the calling greenlet. In an un-patched one (pytest, CLI
commands) the same call would block the whole loop, so it runs in gevent's native thread
pool while the greenlet waits cooperatively; its result or exception comes back to the
greenlet, so everything after it (hub delivery, hooks) stays on the loop's own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import gevent
from gevent import monkey

T = TypeVar("T")


def sockets_patched() -> bool:
    """Return True when gevent has monkey-patched the socket module."""
    return bool(monkey.is_module_patched("socket"))


def call_blocking(offload: bool, fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn(*args)``; with ``offload``, in gevent's thread pool, re-raising its error."""
    if not offload:
        return fn(*args)
    ok, value = gevent.get_hub().threadpool.apply(_capture, (fn, args))
    if not ok:
        raise value
    return cast(T, value)


def _capture(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
    # Runs in a pool thread: hand the exception back instead of letting gevent print it.
    try:
        return True, fn(*args)
    except Exception as exc:
        return False, exc
