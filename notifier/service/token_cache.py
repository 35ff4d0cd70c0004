"""Remember, per process, which API tokens are live, so a request skips the token query.

A bearer request used to read its ``api_tokens`` row (by hash) and then the user: two
statements before the view did anything. Here a live token maps its SHA-256 to
``(token id, user id)`` and a snapshot of the user's columns, from which :func:`user_of`
rebuilds the request's ``User`` without a query. Stream tokens name their parent token by
id, so the same entries answer "is the parent live" at connect.

What can make an entry wrong is a revocation, a deactivation or a change to the user, and
it is dropped:

- at once in the process that revokes or deactivates (``sessions.close_streams`` calls
  ``forget``); the user snapshot also when this process updates the user row (an ORM
  ``after_update``: profile, locale, role, active);
- in every other process when the close message of that revocation arrives on the bus (the
  hub's ``closing`` signal), and entirely after a bus reconnect (``resynced``: a message may
  have been lost while it was down);
- in any case after ``TTL`` seconds, which bounds what a lost message can leave behind to
  the 5 s CONTRACT §8 allows a revoked credential's streams. A profile change made by
  another process (no message) shows on this process's bearer requests within that TTL.
"""

from __future__ import annotations

import time
import weakref
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import event, inspect
from sqlalchemy.orm import lazyload, make_transient_to_detached

from notifier.bus import hub as hub_mod
from notifier.bus.base import Message
from notifier.bus.control import Credential
from notifier.extensions import db, state
from notifier.models import User, utcnow

TTL = 5.0  # seconds an entry is trusted without a query
MAX_ENTRIES = 10_000


class Entry:
    """One live token: its ids, when it was cached, and its last recorded use."""

    __slots__ = ("cached_at", "last_used_at", "token_id", "user", "user_id")

    def __init__(self, token_id: int, user_id: int, last_used_at: datetime | None) -> None:
        self.token_id = token_id
        self.user_id = user_id
        self.last_used_at = last_used_at
        self.cached_at = time.monotonic()
        #: The user's column values when last read, in _COLUMNS order (a tuple: a dict per
        #: cached token cost ~1 KiB at 10,000 streams); None: read the row next time.
        self.user: tuple[Any, ...] | None = None

    @property
    def fresh(self) -> bool:
        """Return True while the entry may be used without asking the database."""
        return time.monotonic() - self.cached_at < TTL


class TokenCache:
    """The live tokens one app (one hub) has seen, by hash and by id."""

    def __init__(self) -> None:
        self._by_digest: dict[str, Entry] = {}
        self._by_id: dict[int, Entry] = {}

    def lookup(self, digest: str) -> Entry | None:
        """Return the fresh entry of a token hash, or None (then query, and remember)."""
        entry = self._by_digest.get(digest)
        if entry is None:
            return None
        if not entry.fresh:
            self._drop(digest, entry)
            return None
        return entry

    def parent_live(self, token_id: int, user_id: int) -> bool:
        """Return True when ``token_id`` of ``user_id`` is known live (False: ask the database)."""
        entry = self._by_id.get(token_id)
        return entry is not None and entry.user_id == user_id and entry.fresh

    def live_entry(self, token_id: int, user_id: int) -> Entry | None:
        """Return the fresh entry of ``token_id`` of ``user_id`` (None: ask the database)."""
        entry = self._by_id.get(token_id)
        return entry if entry is not None and entry.user_id == user_id and entry.fresh else None

    def remember(
        self, digest: str, token_id: int, user_id: int, last_used_at: datetime | None
    ) -> Entry:
        """Cache a token just found live in the database."""
        if len(self._by_digest) >= MAX_ENTRIES:
            self.clear()  # many distinct tokens: start over rather than keep an LRU
        entry = Entry(token_id, user_id, last_used_at)
        self._by_digest[digest] = entry
        self._by_id[token_id] = entry
        return entry

    def forget(self, user_id: int, credential: Credential | None) -> None:
        """Drop the entries a close message names: one token, or every token of the user."""
        if credential is not None and credential[0] != "token":
            return  # a sign-in ended: tokens are unaffected
        for digest, entry in list(self._by_digest.items()):
            if entry.user_id == user_id and (credential is None or entry.token_id == credential[1]):
                self._drop(digest, entry)

    def forget_user(self, user_id: int) -> None:
        """Drop the user snapshots of ``user_id`` (its row changed); the tokens stay live."""
        for entry in self._by_id.values():
            if entry.user_id == user_id:
                entry.user = None

    def clear(self) -> None:
        """Forget everything (after a bus reconnect)."""
        self._by_digest.clear()
        self._by_id.clear()

    def _drop(self, digest: str, entry: Entry) -> None:
        self._by_digest.pop(digest, None)
        if self._by_id.get(entry.token_id) is entry:
            del self._by_id[entry.token_id]


_COLUMNS = tuple(c.key for c in inspect(User).column_attrs)
#: The table columns behind _COLUMNS, in that order: a Core SELECT of them is a snapshot.
USER_COLUMNS = tuple(inspect(User).column_attrs[k].columns[0] for k in _COLUMNS)


def user_of(entry: Entry) -> User | None:
    """Return the entry's user in the current session: from the snapshot, or read by id.

    The snapshot becomes a persistent ``User`` without a query (``make_transient_to_detached``
    then ``add``); lazy relationships (``tenant``) load on first use as before. A user the
    session already holds is taken from it, so a request never sees two copies.
    """
    key = db.session.identity_key(User, entry.user_id)
    if entry.user is None or key in db.session.identity_map:
        user = db.session.get(User, entry.user_id, options=NO_TENANT)
        if user is not None and user.active:
            entry.user = snapshot(user)
        return user
    user = User(**dict(zip(_COLUMNS, entry.user, strict=True)))
    make_transient_to_detached(user)
    db.session.add(user)
    return user


_AT = {name: i for i, name in enumerate(_COLUMNS)}


class Caller(NamedTuple):
    """Who a cached token belongs to, read off the snapshot: no ORM instance, no query."""

    token_id: int
    user_id: int
    tenant_id: int
    is_admin: bool


def caller(entry: Entry, recent: float = 60.0) -> Caller | None:
    """Return the entry's caller when its snapshot is active and its use recorded recently.

    None sends the request through :func:`~notifier.service.accounts.token_user`, which
    reads what is missing and records the use (``last_used_at``, once a minute). Building a
    ``User`` from the snapshot cost ~120 µs of a publish's CPU; the fast lane needs three ids.
    """
    values = entry.user
    used = entry.last_used_at
    if values is None or used is None or not values[_AT["active"]]:
        return None
    if (utcnow() - used).total_seconds() > recent:
        return None
    admin = values[_AT["role"]] == "admin"
    return Caller(entry.token_id, entry.user_id, values[_AT["tenant_id"]], admin)


def snapshot(user: User) -> tuple[Any, ...] | None:
    """Return the user's column values, or None when one is not loaded (expired)."""
    values = user.__dict__
    if not all(k in values for k in _COLUMNS):
        return None
    return tuple(values[k] for k in _COLUMNS)


NO_TENANT = (lazyload(User.tenant),)


# One cache per hub, i.e. per app: two apps in one process (tests) never share token ids.
_caches: weakref.WeakKeyDictionary[Any, TokenCache] = weakref.WeakKeyDictionary()


def for_hub(hub: Any) -> TokenCache:
    """Return the cache that belongs with ``hub``."""
    cache = _caches.get(hub)
    if cache is None:
        cache = _caches[hub] = TokenCache()
    return cache


def current() -> TokenCache:
    """Return the current app's cache."""
    return for_hub(state().hub)


def _on_closing(hub: Any, message: Message) -> None:
    data = message.data if isinstance(message.data, dict) else {}
    raw = data.get("credential")
    try:
        credential = None if raw is None else (str(raw[0]), int(raw[1]))
    except (TypeError, ValueError, LookupError):
        credential = None  # malformed: dropping all of the user's entries is the safe side
    for_hub(hub).forget(message.user_id, credential)


def _on_resynced(hub: Any) -> None:
    for_hub(hub).clear()


@event.listens_for(User, "after_update")
def _on_user_update(_mapper: Any, _conn: Any, target: User) -> None:
    # Flushed inside the request or command that changed it; other apps' caches expire by TTL.
    for cache in list(_caches.values()):
        cache.forget_user(target.id)


hub_mod.closing.connect(_on_closing)
hub_mod.resynced.connect(_on_resynced)
