"""Who a fast-lane request is: the bearer token of its header, read off the token cache.

Both lane routes (``lane_publish``, ``lane_stream``) authenticate the same way; anything this
returns None for goes to Flask's view, whose ``api_user`` words the 401.
"""

from __future__ import annotations

from notifier.service import accounts, embed, token_cache


def bearer_token(header: str) -> str | None:
    """Return the API token of an ``Authorization: Bearer`` header (not an embed token)."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or token.startswith(embed.TOKEN_PREFIX):
        return None
    return token


def token_caller(token: str) -> token_cache.Caller | None:
    """Return who ``token`` belongs to: the cache's snapshot, else the full lookup (cached)."""
    entry = token_cache.current().lookup(accounts.digest(token))
    found = token_cache.caller(entry) if entry is not None else None
    if found is not None:
        return found
    live = accounts.token_user(token)  # reads and caches what is missing, records the use
    if live is None:
        return None
    user = live[1]
    return token_cache.Caller(live[0], user.id, user.tenant_id, user.is_admin)
