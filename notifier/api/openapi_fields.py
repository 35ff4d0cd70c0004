"""Field schemas of the OpenAPI document that state exactly what the validators accept.

The document is checked against the code by tests/test_api_fuzz.py both ways: every value
these schemas allow must be accepted, every value they refuse must be refused. So the patterns
follow the Python checks to the character: ``str.strip()`` trims Python's whitespace (which
includes U+001C–U+001F and U+0085, unlike a regex's ``\\s``), ``urlsplit`` lower-cases the
scheme, and so on. Patterns are ECMA-262 as JSON Schema reads them (``$`` is the end).
"""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

# Python's str.isspace() set, as a character class body.
WS = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# C0 controls, DEL and C1 controls: refused in links (a browser drops some of them silently).
CTRL = "\\x00-\\x1f\\x7f-\\x9f"
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
TYPE_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$"
TAG_PATTERN = "^[A-Za-z0-9_.:-]{1,50}$"
PORT = "(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` that also allows null (the validators read null as left out)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def not_blank(max_length: int | None = None, description: str = "") -> dict[str, Any]:
    """Return a string schema that holds a non-whitespace character (``len`` counted untrimmed)."""
    out: dict[str, Any] = {"type": "string", "pattern": f"[^{WS}]"}
    if max_length is not None:
        out["maxLength"] = max_length
    if description:
        out["description"] = description
    return out


def trimmed(max_length: int) -> dict[str, Any]:
    """Return a string schema of 1..max_length characters once surrounding whitespace is cut."""
    inner = max_length - 2
    return {
        "type": "string",
        "pattern": f"^[{WS}]*[^{WS}](?:[\\s\\S]{{0,{inner}}}[^{WS}])?[{WS}]*$",
        "description": f"1 to {max_length} characters after surrounding whitespace is removed",
    }


def id_schema(maximum: int = INT64_MAX, description: str = "") -> dict[str, Any]:
    """Return a positive integer id schema up to ``maximum``."""
    out: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": maximum}
    if description:
        out["description"] = description
    return out


# User ids are 32-bit on PostgreSQL; beyond that a body id is refused (422), not looked up.
USER_ID = id_schema(INT32_MAX)
# The ids of notifications are 64-bit on every database.
NOTIFICATION_ID = id_schema()
CURSOR_ID = id_schema(
    description="the `next` value of the previous page (a positive id; 400 bad_cursor otherwise)"
)
TYPE = {"type": "string", "pattern": TYPE_PATTERN}
E164_OR_EMPTY = {
    "type": ["string", "null"],
    "pattern": "^(?:\\+[1-9][0-9]{6,14})?$",
    "description": "E.164, like +15551234567; null or an empty string removes it",
}
HHMM = {"type": "string", "pattern": "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"}
# Times the server can store: RFC 3339, years 1970 to 9999 (CONTRACT §8).
SEND_AT = {
    "type": ["string", "null"],
    "format": "date-time",
    "pattern": "^(?:19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]"
    "(?:\\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$",
    "examples": ["2026-01-01T09:00:00Z"],
    "description": "In the future: scheduled, answered with 202. RFC 3339, years 1970–9999.",
}
# A link in a notification: a same-site path (not //host, no backslash) or an http(s) URL.
LINK = {
    "type": ["string", "null"],
    "maxLength": 2048,
    "pattern": f"^(?:/(?:[^/\\\\{CTRL}][^\\\\{CTRL}]*)?"
    f"| *[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\[\\]{CTRL}]+(?:[/?#][^{CTRL}]*)?)?$",
    "description": "http(s) URL or a path starting with / (not //); no control characters; "
    "empty or null: no link",
}
# A webhook: http(s) to a host name or IPv4 address that resolves to public addresses only
# (checked when it is registered: 422 otherwise, unless NOTIFIER_WEBHOOK_ALLOW_PRIVATE).
_LABEL = "[A-Za-z0-9!$&'()*+,;=_~-]{1,63}"
WEBHOOK_URL = {
    "type": "string",
    "format": "uri",
    "maxLength": 2048,
    "pattern": f"^[Hh][Tt][Tt][Pp][Ss]?://{_LABEL}(?:\\.{_LABEL})*\\.?(?::{PORT}?)?"
    "(?:[/?#][^\\s]*)?$",
}
# What PushSubscription.toJSON() gives: an https endpoint and two base64url keys.
PUSH_ENDPOINT = {
    "type": "string",
    "maxLength": 2048,
    # Leading whitespace, then C0 controls and spaces, are cut (strip, then urlsplit); the host
    # ends at the port or the path, and after it anything goes, as for the browser that made it.
    "pattern": f"^[{WS}]*[\\x00-\\x20]*[Hh][Tt][Tt][Pp][Ss]://"
    f"[^/?#@\\[\\]:\\t\\n\\r{WS}][^/?#@\\[\\]:\\t\\n\\r]*(?::{PORT}?)?(?:[/?#][\\s\\S]*)?$",
    "description": "https (http too with NOTIFIER_WEBHOOK_ALLOW_PRIVATE); no credentials",
}
P256DH = {
    "type": "string",
    "pattern": "^B[A-P][A-Za-z0-9_-]{85}={0,2}$",
    "description": "base64url of an uncompressed P-256 public key (65 bytes, first 0x04)",
}
AUTH_SECRET = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]{22}={0,2}$",
    "description": "base64url of the 16-byte auth secret",
}


@cache
def time_zones() -> list[str]:
    """Return the IANA names this server's zoneinfo knows, sorted (the accepted values)."""
    return sorted(zoneinfo.available_timezones())


def timezone_schema() -> dict[str, Any]:
    """Return the TimeZone component: an enum of the IANA names the server can load."""
    return {
        "type": "string",
        "enum": time_zones(),
        "examples": ["Europe/Paris"],
        "description": "An IANA time zone name this server knows (422 otherwise).",
    }
