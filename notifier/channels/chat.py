"""Post notifications to Slack and Discord incoming webhooks, each in its own message format.

Slack (``kind="slack"``, https://api.slack.com/messaging/webhooks): one message whose ``text``
is the plain fallback (shown in phone and desktop notifications) and one attachment carrying
the priority colour bar around Block Kit blocks: a ``header`` with the title, a ``section``
with the body in mrkdwn, a ``context`` line (type and priority) and an ``actions`` block with
a link button to the notification and one per action that has a URL. Slack answers 200 ``ok``.

Discord (``kind="discord"``, "Execute Webhook"): one ``embed`` with ``title``, ``description``
(the body), ``url`` (the title links there), ``color`` (the priority as an integer), ``fields``
(priority, type and the action links as Markdown ``[label](url)``, since a plain incoming
webhook cannot carry buttons) and ``timestamp``; ``allowed_mentions`` is empty so a body with
``@everyone`` never pings a server. Discord answers 204.

Both services answer 429 with Retry-After when rate limited and 5xx when down (retried), and
404/410 once the webhook was removed (dead). The URL itself is the credential: it is never
logged, and lists show only a hint of it. The SSRF guard of :mod:`notifier.channels.pinned`
applies, as for tenant webhooks.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any

from notifier.channels.base import Channel, DeliveryJob, PermanentError, io_timeout
from notifier.channels.pinned import post, resolve, split_url
from notifier.channels.webhook import USER_AGENT, raise_for_status

KINDS = ("slack", "discord")
TIMEOUT = 5.0
# The colour bar says how urgent it is at a glance (the inbox uses the same scale).
PRIORITY_COLOURS = {
    "low": "#8a94a6",
    "normal": "#2456d3",
    "high": "#e8a317",
    "urgent": "#d6322b",
}
MAX_LINKS = 5  # a notification link and up to four actions keep the message readable

# Limits of each service (longer values make it refuse the whole message with 400).
SLACK_HEADER = 150
SLACK_SECTION = 3000
SLACK_BUTTON = 75
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELD = 1024


def _cut(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _absolute(url: Any) -> str | None:
    """Return the URL when a chat client can open it (absolute http/https), else None."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return None


def links(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (label, url) pairs: the notification itself, then its actions that carry a URL."""
    out: list[tuple[str, str]] = []
    if url := _absolute(item.get("url")):
        out.append(("Open", url))
    for action in item.get("actions") or []:
        if isinstance(action, Mapping) and (url := _absolute(action.get("url"))):
            out.append((str(action.get("label") or action.get("id") or "Open"), url))
    return out[:MAX_LINKS]


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives a meaning (``<@U1>``, ``<!here>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Slack incoming-webhook body for one notification."""
    title = _cut(item.get("title"), SLACK_HEADER)
    body = str(item.get("body") or "")
    priority = str(item.get("priority") or "normal")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}
    ]
    if body:
        text = _cut(slack_escape(body), SLACK_SECTION)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    context = f"{item.get('type')} · priority {priority}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _cut(label, SLACK_BUTTON)},
            "url": url,
            **({"style": "primary"} if index == 0 else {}),
        }
        for index, (label, url) in enumerate(links(item))
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    fallback = title + (f": {_cut(body, 200)}" if body else "")
    return {
        "text": slack_escape(fallback),
        "attachments": [
            {
                "color": PRIORITY_COLOURS.get(priority, PRIORITY_COLOURS["normal"]),
                "fallback": slack_escape(fallback),
                "blocks": blocks,
            }
        ],
    }


def discord_message(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Discord execute-webhook body for one notification."""
    priority = str(item.get("priority") or "normal")
    colour = PRIORITY_COLOURS.get(priority, PRIORITY_COLOURS["normal"])
    fields = [
        {"name": "Priority", "value": priority, "inline": True},
        {"name": "Type", "value": _cut(item.get("type"), DISCORD_FIELD), "inline": True},
    ]
    found = links(item)
    if found:
        value = " · ".join(f"[{label.replace(']', ')')}]({url})" for label, url in found)
        fields.append({"name": "Links", "value": _cut(value, DISCORD_FIELD), "inline": False})
    embed: dict[str, Any] = {
        "title": _cut(item.get("title"), DISCORD_TITLE),
        "description": _cut(item.get("body"), DISCORD_DESCRIPTION),
        "color": int(colour.lstrip("#"), 16),
        "fields": fields,
    }
    if found and found[0][0] == "Open":
        embed["url"] = found[0][1]
    if item.get("created_at"):
        embed["timestamp"] = str(item["created_at"])
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def build_message(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the body for a kind; a digest sends its newest item with a count in the title."""
    item = dict(items[-1]) if items else {}
    if len(items) > 1:
        item["title"] = f"{item.get('title')} (+{len(items) - 1} more)"
    if kind == "slack":
        return slack_message(item)
    if kind == "discord":
        return discord_message(item)
    raise PermanentError(f"unknown chat integration kind {kind!r}")


def validate_chat_url(url: str, allow_private: bool) -> str | None:
    """Return why a URL may not be a chat webhook, or None: https only, http to private hosts
    only where NOTIFIER_WEBHOOK_ALLOW_PRIVATE allows them (development and tests)."""
    try:
        parts, port = split_url(url)
        if parts.scheme != "https" and not allow_private:
            return "must be an https URL"
        resolve(str(parts.hostname), port, allow_private)
    except ValueError as exc:
        return str(exc)
    except socket.gaierror:
        return "cannot resolve the host"
    return None


def url_hint(url: str) -> str:
    """Return the URL with its secret path hidden: scheme, host and the last four characters."""
    try:
        parts, _ = split_url(url)
    except ValueError:
        return "…"
    tail = url.rstrip("/")[-4:]
    return f"{parts.scheme}://{parts.hostname}/…{tail}"


class ChatChannel(Channel):
    """POST a Slack or Discord message; ``job.target`` is ``{"kind", "url"}``."""

    name = "chat"

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        """Read NOTIFIER_WEBHOOK_ALLOW_PRIVATE: chat URLs follow the webhook SSRF rules."""
        self.allow_private = bool(cfg.get("NOTIFIER_WEBHOOK_ALLOW_PRIVATE", False))
        self.timeout = io_timeout(cfg, TIMEOUT)

    def configured(self) -> bool:
        """Return True: integrations are per tenant, nothing server-wide to set."""
        return True

    def send(self, job: DeliveryJob) -> None:
        """Format the job for its service and POST it, mapping failures to retry or dead."""
        target = job.target or {}
        kind, url = target.get("kind"), target.get("url")
        if not url or kind not in KINDS:
            raise PermanentError("chat target needs a kind (slack or discord) and a url")
        body = json.dumps(build_message(kind, job.items), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        reply = post(
            url,
            body,
            headers,
            allow_private=self.allow_private,
            timeout=self.timeout,
            what=f"{kind} webhook",
        )
        raise_for_status(reply.status, reply.headers, f"{kind} webhook")
