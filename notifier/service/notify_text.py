"""Where notify_plan.plan() and notify.store() put a template's rendered text (CONTRACT §10).

Kept apart from :mod:`.notify` so the fan-out reads the same with or without templates:
each function is the identity (or empty) when the publish has no template.
"""

from __future__ import annotations

from typing import Any

from notifier.service.template_render import Rendering, channel_payload

Text = dict[str, dict[str, str]]


def render_for(
    rendering: Rendering | None, user_id: int, allowed: dict[str, bool]
) -> tuple[Text, str | None]:
    """Return ({channel: rendered fields}, variant) for the channels the recipient allows."""
    if rendering is None:
        return {}, None
    return rendering.for_user(user_id, [ch for ch, ok in allowed.items() if ok])


def apply_inbox_text(row: dict[str, Any], text: Text, variant: str | None) -> None:
    """Put the in-app template's title and body and the variant on an inbox row."""
    rendered = text.get("in_app", {})
    row["title"] = rendered.get("title") or row["title"]
    row["body"] = rendered.get("body") or row["body"]
    row["variant"] = variant  # every row of a templated publish has the key (one executemany)


def payload_for(fields: dict[str, Any], ch: str, text: Text) -> dict[str, Any]:
    """Return a delivery's payload: the shared fields, or a copy with the channel's text."""
    return channel_payload(ch, fields, text[ch]) if ch in text else fields


def event_fields(fields: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Return what the stream shows of an inbox row: its rendered text when templated."""
    if "variant" not in row:
        return fields
    return {**fields, "title": row["title"], "body": row["body"]}


def chat_payload(rendering: Rendering | None, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Return the chat post's fields from the chat template (rendered once, no user), or None."""
    chat = rendering.for_tenant() if rendering is not None else None
    return channel_payload("chat", fields, chat) if chat else None
