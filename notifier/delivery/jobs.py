"""Turn a claim into channel jobs, send them, and sum up what happened.

Planning reads the recipient's address (email, phone, push subscriptions, webhook endpoint)
and ends its read transaction before anything goes over the network. Sending touches no
database at all: it only calls ``Channel.send`` and records the exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import current_app
from sqlalchemy import select

from notifier import metrics_delivery
from notifier.channels import Channel, DeliveryJob, PermanentError, TransientError, is_gone
from notifier.delivery.claim import Claim
from notifier.extensions import db
from notifier.models import ChatIntegration, PushSubscription, User, WebhookEndpoint
from notifier.service import unsubscribe
from notifier.service.serialize import iso

log = logging.getLogger("notifier.delivery")

Status = Literal["sent", "retry", "dead"]


@dataclass(slots=True)
class Plan:
    """The jobs for one claim, or the reason there is nothing to send."""

    jobs: list[DeliveryJob] = field(default_factory=list)
    # Push only: the subscription behind each job, so a gone one can be deleted.
    subscription_ids: list[int] = field(default_factory=list)
    problem: str | None = None


@dataclass(slots=True)
class Outcome:
    """What sending a claim came to."""

    status: Status
    error: str | None = None
    retry_after: float | None = None
    gone_subscriptions: list[int] = field(default_factory=list)
    # Not a channel's verdict but an error nobody expected (a bug, or data no code foresaw):
    # never retried, and a digest that hits one is split to find the row at fault.
    unexpected: bool = False


def unusable(payload: Any) -> str | None:
    """Return why no channel can send this stored payload, or None when it is fine.

    Publishing refuses such content; a row holding it anyway (written by an older version,
    or by hand) is set aside by the worker rather than failing every attempt.
    """
    if not isinstance(payload, dict):
        return f"the stored payload is not a JSON object but {type(payload).__name__}"
    if not all(_sendable(text) for text in _strings(payload)):
        return "the stored payload holds text no channel can send (a lone surrogate or NUL)"
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _sendable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def items_of(claim: Claim, base_url: str | None = None) -> list[dict[str, object]]:
    """Return the notification payloads of the claim, oldest first.

    Same-site paths ("/builds/1") become absolute under NOTIFIER_BASE_URL, since an email or
    a push notification is opened outside the site.
    """
    items = []
    for row in claim.rows:
        item = dict(row.payload)
        url = item.get("url")
        if base_url and isinstance(url, str) and url.startswith("/") and not url.startswith("//"):
            item["url"] = base_url.rstrip("/") + url
        if row.notification_id is not None:
            item.setdefault("id", row.notification_id)
        item.setdefault("created_at", iso(row.created_at))
        items.append(item)
    return items


def plan(claim: Claim, channels: dict[str, Channel]) -> Plan:
    """Look up where the claim goes; end the read transaction before returning."""
    try:
        return _plan(claim, channels)
    finally:
        db.session.rollback()  # Reads only: never hold a transaction across the sends.


def _plan(claim: Claim, channels: dict[str, Channel]) -> Plan:
    name, first = claim.channel, claim.first
    if name not in channels:
        return Plan(problem=f"the {name} channel is not configured on this server")

    def job(target: object) -> DeliveryJob:
        return DeliveryJob(
            delivery_id=first.id,
            channel=name,
            user_id=first.user_id,
            tenant_id=first.tenant_id,
            target=target,
            items=items_of(claim, current_app.config.get("NOTIFIER_BASE_URL")),
            attempt=max(row.attempts for row in claim.rows) + 1,
        )

    if name == "webhook":
        endpoint = db.session.get(WebhookEndpoint, first.webhook_id) if first.webhook_id else None
        if endpoint is None or endpoint.deleted_at is not None:
            return Plan(problem="the webhook endpoint was deleted")
        return Plan(jobs=[job({"url": endpoint.url, "secret": endpoint.secret})])
    if name == "chat":
        chat = (
            db.session.get(ChatIntegration, first.integration_id) if first.integration_id else None
        )
        if chat is None or chat.deleted_at is not None:
            return Plan(problem="the chat integration was deleted")
        return Plan(jobs=[job({"kind": chat.kind, "url": chat.url})])
    user = db.session.get(User, first.user_id) if first.user_id is not None else None
    if user is None or not user.active:
        return Plan(problem="the recipient no longer exists or is deactivated")
    if name == "email":
        email_job = job(user.email)
        email_job.extra.update(email_extra(user, email_job.items))
        return Plan(jobs=[email_job])
    if name == "sms":
        if not user.phone:
            return Plan(problem="the recipient has no phone number")
        return Plan(jobs=[job(user.phone)])
    if name == "push":
        subscriptions = db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.user_id == user.id)
            .order_by(PushSubscription.id)
        ).all()
        if not subscriptions:
            return Plan(problem="the recipient has no push subscription")
        return Plan(
            jobs=[
                job({"endpoint": s.endpoint, "keys": {"p256dh": s.p256dh, "auth": s.auth}})
                for s in subscriptions
            ],
            subscription_ids=[s.id for s in subscriptions],
        )
    return Plan(problem=f"unknown channel {name!r}")


def email_extra(user: User, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the email layout's tenant name, branding and links (RFC 8058 unsubscribe).

    The links need NOTIFIER_BASE_URL (a mail is read outside the site); without it the
    message goes out with the tenant's name only.
    """
    tenant = user.tenant
    # The locale picks the language of the mail's own words (subject of a digest, footer).
    extra: dict[str, Any] = {
        "tenant_name": tenant.name,
        "brand_color": tenant.brand_color,
        "logo_url": tenant.logo_url,
        "locale": user.locale or "en",
    }
    base = (current_app.config.get("NOTIFIER_BASE_URL") or "").rstrip("/")
    if base:
        types = sorted({str(i.get("type")) for i in items if i.get("type")})
        extra["manage_url"] = f"{base}/preferences"
        if types:
            extra["unsubscribe_url"] = (
                f"{base}/unsubscribe/{unsubscribe.make_token(user.id, types)}"
            )
    return extra


def send(the_plan: Plan, channel: Channel | None) -> Outcome:
    """Send every job of the plan; the claim is sent when any job got through."""
    if the_plan.problem is not None or channel is None:
        return Outcome("dead", the_plan.problem or "the channel is not configured")
    failures: list[BaseException] = []
    gone: list[int] = []
    delivered = 0
    for index, job in enumerate(the_plan.jobs):
        try:
            with metrics_delivery.attempt(job.channel):
                channel.send(job)
            delivered += 1
        except Exception as exc:  # Channels raise their own types; anything else is a bug.
            if not isinstance(exc, PermanentError | TransientError):
                log.exception("delivery %s %s: unexpected error", job.delivery_id, job.channel)
            failures.append(exc)
            if is_gone(exc) and index < len(the_plan.subscription_ids):
                gone.append(the_plan.subscription_ids[index])
    if delivered:
        note = None
        if failures:
            note = f"{len(failures)} of {len(the_plan.jobs)} targets failed: "
            note += _describe(failures[0])
        return Outcome("sent", note, gone_subscriptions=gone)
    # Only a channel's TransientError is worth another try: an unexpected error comes back
    # the same on every attempt, so the row goes to the dead letters with it at once.
    transient = [e for e in failures if isinstance(e, TransientError)]
    if transient:
        waits = [getattr(e, "retry_after", None) for e in transient]
        retry_after = max((w for w in waits if w is not None), default=None)
        return Outcome("retry", _describe(transient[0]), retry_after, gone)
    unexpected = [e for e in failures if not isinstance(e, PermanentError)]
    error = _describe((unexpected or failures)[0]) if failures else "nothing to send"
    return Outcome("dead", error, None, gone, unexpected=bool(unexpected))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PermanentError | TransientError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"
