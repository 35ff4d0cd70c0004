"""Field types of the API contract: each one validates a value and states the same rule.

The request models (``contract_*.py``) are built from these, and the OpenAPI document is
generated from the models, so the document can only say what the validation does. Where a
rule is a pattern, pydantic checks it with the same ECMA-like regex engine the document's
readers use (``$`` is the very end, unanchored search), so the patterns follow the Python
checks of the services to the character: ``str.strip()`` trims Python's whitespace (which
includes U+001C–U+001F and U+0085, unlike a regex's ``\\s``), ``urlsplit`` lower-cases the
scheme, and so on. tests/test_api_fuzz.py checks the agreement both ways.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from notifier.models import PRIORITIES
from notifier.service.clean import INT32_MAX, INT64_MAX

# Python's str.isspace() set, as a character class body.
WS = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# C0 controls, DEL and C1 controls: refused in links (a browser drops some of them silently).
CTRL = "\\x00-\\x1f\\x7f-\\x9f"
TYPE_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$"
TAG_PATTERN = "^[A-Za-z0-9_.:-]{1,50}$"
PORT = "(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"


def refuse_unless(check: Callable[[Any], bool], message: str) -> AfterValidator:
    """Return a validator for a rule no schema keyword carries: 422 ``message`` unless ``check``.

    Pair it with ``WithJsonSchema`` stating the same rule for the document, as ``TimeZone``
    does; use it only where pydantic's own constraints cannot express the rule.
    """

    def run(value: Any) -> Any:
        try:
            ok = check(value)
        except ValueError:
            ok = False
        if not ok:
            raise PydanticCustomError("checked", message)
        return value

    return AfterValidator(run)


# A string that holds a non-whitespace character (its length counted untrimmed).
NOT_BLANK = f"[^{WS}]"


def trimmed_pattern(max_length: int) -> str:
    """Return the pattern of 1..max_length characters once surrounding whitespace is cut."""
    return f"^[{WS}]*[^{WS}](?:[\\s\\S]{{0,{max_length - 2}}}[^{WS}])?[{WS}]*$"


# User ids are 32-bit on PostgreSQL; beyond that a body id is refused (422), not looked up.
UserId = Annotated[int, Field(ge=1, le=INT32_MAX)]
# The ids of notifications are 64-bit on every database.
NotificationId = Annotated[int, Field(ge=1, le=INT64_MAX)]
TypeName = Annotated[str, Field(pattern=TYPE_PATTERN)]
Tag = Annotated[str, Field(pattern=TAG_PATTERN)]
EntityId = Annotated[
    Any,
    refuse_unless(
        lambda v: (
            v is None
            or (isinstance(v, str | int) and not isinstance(v, bool) and len(str(v)) <= 128)
        ),
        "a string of at most 128 characters",
    ),
    WithJsonSchema(
        {
            "type": ["string", "integer", "null"],
            "maxLength": 128,
            "description": "stored as a string",
        }
    ),
]
Title = Annotated[
    str,
    Field(
        max_length=200, pattern=NOT_BLANK, description="at most 200 characters, not only whitespace"
    ),
]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
Phone = Annotated[
    str | None,
    Field(
        pattern="^(?:\\+[1-9][0-9]{6,14})?$",
        description="E.164, like +15551234567; null or an empty string removes it",
    ),
]
HHMM = Annotated[str, Field(pattern="^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")]
Time = Annotated[
    str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-01-01T00:00:00Z"])
]
NullableTime = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]
# Times the server can store: RFC 3339, years 1970 to 9999 (CONTRACT §8).
TIME_PATTERN = (
    "^(?:19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]"
    "(?:\\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
SendAt = Annotated[
    str | None,
    Field(
        pattern=TIME_PATTERN,
        json_schema_extra={"format": "date-time"},
        examples=["2026-01-01T09:00:00Z"],
        description="In the future: scheduled, answered with 202. RFC 3339, years 1970–9999.",
    ),
]
# A link in a notification: a same-site path (not //host, no backslash) or an http(s) URL.
LINK_PATTERN = (
    f"^(?:/(?:[^/\\\\{CTRL}][^\\\\{CTRL}]*)?"
    f"| *[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\[\\]{CTRL}]+(?:[/?#][^{CTRL}]*)?)?$"
)
LINK_DESCRIPTION = (
    "http(s) URL or a path starting with / (not //); no control characters; empty or null: no link"
)
Link = Annotated[
    str | None, Field(max_length=2048, pattern=LINK_PATTERN, description=LINK_DESCRIPTION)
]
# A webhook: http(s) to a host name or IPv4 address that resolves to public addresses only
# (checked when it is registered: 422 otherwise, unless NOTIFIER_WEBHOOK_ALLOW_PRIVATE).
_LABEL = "[A-Za-z0-9!$&'()*+,;=_~-]{1,63}"
_AFTER_SCHEME = f"://{_LABEL}(?:\\.{_LABEL})*\\.?(?::{PORT}?)?(?:[/?#][^\\s]*)?$"
WebhookUrl = Annotated[
    str,
    Field(
        max_length=2048,
        pattern="^[Hh][Tt][Tt][Pp][Ss]?" + _AFTER_SCHEME,
        json_schema_extra={"format": "uri"},
    ),
]
# A chat (Slack, Discord) incoming webhook: as a webhook, but https unless
# NOTIFIER_WEBHOOK_ALLOW_PRIVATE, which the service checks; the document states the default
# configuration's rule (as PushEndpoint does).
ChatUrl = Annotated[
    str,
    Field(max_length=2048, pattern="^[Hh][Tt][Tt][Pp][Ss]?" + _AFTER_SCHEME),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 2048,
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]" + _AFTER_SCHEME,
            "format": "uri",
            "description": "the incoming-webhook URL Slack or Discord gave you; https, to a "
            "public host (http and private hosts only with NOTIFIER_WEBHOOK_ALLOW_PRIVATE)",
        }
    ),
]
# What PushSubscription.toJSON() gives: an https endpoint and two base64url keys. Whether http
# is allowed too depends on NOTIFIER_WEBHOOK_ALLOW_PRIVATE, so the service checks the URL; the
# document states the default configuration's rule (the fuzz holds the two together).
PushEndpoint = Annotated[
    Any,
    refuse_unless(
        lambda v: isinstance(v, str) and len(v) <= 2048, "an https URL of at most 2048 characters"
    ),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 2048,
            # Leading whitespace, then C0 controls and spaces, are cut (strip, then urlsplit);
            # the host ends at the port or the path, and after it anything goes, as for the
            # browser that made it.
            "pattern": f"^[{WS}]*[\\x00-\\x20]*[Hh][Tt][Tt][Pp][Ss]://"
            f"[^/?#@\\[\\]:\\t\\n\\r{WS}][^/?#@\\[\\]:\\t\\n\\r]*(?::{PORT}?)?"
            "(?:[/?#][\\s\\S]*)?$",
            "description": "https (http too with NOTIFIER_WEBHOOK_ALLOW_PRIVATE); no credentials",
        }
    ),
]
P256dh = Annotated[
    str,
    Field(
        pattern="^B[A-P][A-Za-z0-9_-]{85}={0,2}$",
        description="base64url of an uncompressed P-256 public key (65 bytes, first 0x04)",
    ),
]
AuthSecret = Annotated[
    str,
    Field(pattern="^[A-Za-z0-9_-]{22}={0,2}$", description="base64url of the 16-byte auth secret"),
]


@cache
def time_zones() -> frozenset[str]:
    """Return the IANA names this server's zoneinfo knows (the accepted values)."""
    return frozenset(zoneinfo.available_timezones())


def timezone_schema() -> dict[str, Any]:
    """Return the TimeZone component: an enum of the IANA names the server can load."""
    return {
        "type": "string",
        "enum": sorted(time_zones()),
        "examples": ["Europe/Paris"],
        "description": "An IANA time zone name this server knows (422 otherwise).",
    }


# A $ref: the ~600 names are listed once, in the TimeZone component.
TimeZone = Annotated[
    Any,
    refuse_unless(lambda v: isinstance(v, str) and v in time_zones(), "unknown time zone"),
    # A $ref (wrapped: pydantic resolves a bare one itself): the names are listed once.
    WithJsonSchema({"allOf": [{"$ref": "#/components/schemas/TimeZone"}]}),
]
