"""Field schemas for hand-written ``openapi_<x>.py`` dict modules, during their conversion.

Each constant is generated from the field type of the same rule in ``fields.py``, so a dict
module states what the models validate. A converted module uses ``fields.py`` directly; delete
this file once no module imports it.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from notifier.api import fields
from notifier.api.fields import (  # noqa: F401 - re-exported for dict modules
    CTRL,
    PORT,
    TAG_PATTERN,
    TYPE_PATTERN,
    WS,
    timezone_schema,
)
from notifier.api.openapi_common import CURSOR_ID  # noqa: F401
from notifier.service.clean import INT32_MAX, INT64_MAX  # noqa: F401


def time_zones() -> list[str]:
    """Return the IANA names this server's zoneinfo knows, sorted (the accepted values)."""
    return sorted(fields.time_zones())


def schema_of(kind: Any) -> dict[str, Any]:
    """Return the JSON Schema of a field type of ``fields.py``."""
    return TypeAdapter(kind).json_schema(ref_template="#/components/schemas/{model}")


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` that also allows null (the validators read null as left out)."""
    return {"anyOf": [schema, {"type": "null"}]}


def not_blank(max_length: int | None = None, description: str = "") -> dict[str, Any]:
    """Return a string schema that holds a non-whitespace character (``fields.NOT_BLANK``)."""
    out: dict[str, Any] = {"type": "string", "pattern": fields.NOT_BLANK}
    if max_length is not None:
        out["maxLength"] = max_length
    return {**out, "description": description} if description else out


def trimmed(max_length: int) -> dict[str, Any]:
    """Return a string schema of 1..max_length characters once surrounding whitespace is cut."""
    return {"type": "string", "pattern": fields.trimmed_pattern(max_length)}


def id_schema(maximum: int = INT64_MAX, description: str = "") -> dict[str, Any]:
    """Return a positive integer id schema up to ``maximum``."""
    out: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": maximum}
    return {**out, "description": description} if description else out


USER_ID = schema_of(fields.UserId)
NOTIFICATION_ID = schema_of(fields.NotificationId)
TYPE = schema_of(fields.TypeName)
E164_OR_EMPTY = schema_of(fields.Phone)
HHMM = schema_of(fields.HHMM)
SEND_AT = schema_of(fields.SendAt)
LINK = schema_of(fields.Link)
WEBHOOK_URL = schema_of(fields.WebhookUrl)
PUSH_ENDPOINT = schema_of(fields.PushEndpoint)
P256DH = schema_of(fields.P256dh)
AUTH_SECRET = schema_of(fields.AuthSecret)
