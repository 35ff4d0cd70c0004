"""What a WebSocket client may ask (CONTRACT §11): the op table and its validation.

Every op is answered on the socket: ``ping`` by ``pong``; ``subscribe`` by ``subscribed``;
``read``, ``seen`` and ``archive`` are applied exactly as the
REST bulk call does, so its effect reaches this socket (and every other stream of the user) as
the ``update`` event, and the socket also gets an ``ack`` with the REST answer. Anything else
gets an ``error`` message; the connection stays open.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from notifier.extensions import db
from notifier.models import Notification, User
from notifier.service import clean, inbox
from notifier.service.errors import ServiceError, ValidationError
from notifier.stream.types import parse_types

Reply = dict[str, Any]
Action = Callable[[User, list[int]], tuple[int, list[int]]]


def id_list(value: Any, limit: int = 1000) -> list[int]:
    """Validate an op's ``ids``: a list of notification ids, at most ``limit`` (422 otherwise)."""
    if not isinstance(value, list) or not all(clean.is_id(i, Notification.id) for i in value):
        raise ValidationError("ids must be a list of ids", fields={"ids": "list of integers"})
    if len(value) > limit:
        raise ValidationError(f"at most {limit} ids", fields={"ids": f"at most {limit}"})
    return value


def _bulk(action: str) -> Action:
    def apply(user: User, ids: list[int]) -> tuple[int, list[int]]:
        return inbox.bulk(user, action, ids)

    return apply


# The acknowledgement ops, each the REST bulk call of the same name.
ACTIONS: dict[str, Action] = {op: _bulk(op) for op in ("read", "seen", "archive")}


def error(code: str, message: str, **extra: Any) -> Reply:
    """Return an ``error`` message."""
    return {"event": "error", "data": {"code": code, "message": message, **extra}}


def parse(raw: Any) -> dict[str, Any]:
    """Decode one client message into a dict with a string ``op`` (ValueError otherwise)."""
    if not isinstance(raw, str):
        raise ValueError("messages are JSON text")
    doc = json.loads(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("op"), str):
        raise ValueError('a message is a JSON object with an "op"')
    return doc


def resume_cursor(doc: dict[str, Any]) -> str:
    """Return the cursor of a ``resume`` op as the text a Last-Event-ID header would carry.

    Anything but a non-negative integer becomes an unusable cursor, so the stream opens with
    ``reset`` exactly as an SSE stream given a bad Last-Event-ID does.
    """
    after = doc.get("after")
    if isinstance(after, int) and not isinstance(after, bool) and after >= 0:
        return str(after)
    return "invalid"


def act(user_id: int, op: str, doc: dict[str, Any]) -> Reply:
    """Apply an acknowledgement op for ``user_id`` (in an app context); return the reply."""
    action = ACTIONS.get(op)
    if action is None:
        return error("unsupported_op", f"{op} is not supported by this server yet", op=op)
    try:
        ids = id_list(doc.get("ids"))
        user = db.session.get(User, user_id)
        if user is None or not user.is_active:
            return error("unauthorized", "the account is gone")
        updated, not_found = action(user, ids)
    except ValidationError as exc:
        db.session.rollback()
        return error("validation_error", exc.message, fields=exc.fields, op=op)
    except ServiceError as exc:
        db.session.rollback()
        return error(exc.code or "error", exc.message, op=op)
    return {"event": "ack", "data": {"op": op, "updated": updated, "not_found": not_found}}


def subscribed(doc: dict[str, Any]) -> tuple[frozenset[str] | None, Reply]:
    """Validate a ``subscribe`` op; return the new types (None: all) and the reply."""
    types = parse_types(doc.get("types"))
    return types, {"event": "subscribed", "data": {"types": sorted(types or [])}}


KNOWN = ("resume", "subscribe", "ping", *ACTIONS)
