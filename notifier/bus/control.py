"""Control messages on the bus: close the streams opened with a credential that died.

Each subscription records the credential that opened it: ``("session", UserSession id)`` for
the login session (pages, and API reads with the cookie) or ``("token", ApiToken id)`` for a
bearer token and for the stream tokens minted with it. Logout, token revocation and user
deactivation publish a :func:`close_message`; it travels the bus like any event, so it
reaches the hub of every process (memory: this one; Redis: all of them, over the same
channel and in the same order as events), and ``Hub.deliver`` acts on it instead of queueing
it: the matching subscriptions close, their streams end, and a reconnect meets a 401.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from notifier.bus.base import Message

if TYPE_CHECKING:  # hub.py imports this module
    from notifier.bus.hub import Subscription

CLOSE_EVENT = "_close"  # never written to a stream: the hub consumes it
CLOSE_REASON = "revoked"

# What opened a stream: ("session", UserSession id) or ("token", ApiToken id).
Credential = tuple[str, int]


def close_message(user_id: int, tenant_id: int, credential: Credential | None = None) -> Message:
    """Build the message that closes ``user_id``'s streams: all, or those of ``credential``."""
    data = {"credential": list(credential) if credential is not None else None}
    return Message(user_id, tenant_id, 0, CLOSE_EVENT, data)


def matching(subs: Iterable[Subscription], data: Any) -> list[Subscription]:
    """Return the subscriptions a close message's ``data`` names (all for a None credential)."""
    if not isinstance(data, dict):
        return []
    credential = data.get("credential")
    if credential is None:
        return list(subs)
    try:
        kind, ident = credential
        wanted = (str(kind), int(ident))
    except (TypeError, ValueError):
        return []  # a malformed control message closes nothing rather than everything
    return [sub for sub in subs if sub.credential == wanted]
