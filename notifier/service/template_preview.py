"""Preview a template as its channel will show it, with sample data, before it is saved.

The admin screen posts the form on every change; this compiles it exactly as saving would,
renders it (and each variant) for the admin as the sample user, and for email fills the
tenant's branded layout through the email channel's own renderer, so the preview is the mail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from notifier.channels.base import DeliveryJob
from notifier.channels.email import render_html, render_text, subject_for
from notifier.models import Tenant, User
from notifier.service.errors import ValidationError
from notifier.service.template_render import (
    Compiled,
    channel_payload,
    compile_row,
    render_fields,
)
from notifier.service.template_sandbox import scoped
from notifier.service.templates import validate_template

MAX_SAMPLE = 20_000


@dataclass
class Arm:
    """One rendering: the template itself (name None) or one variant."""

    name: str | None
    weight: int | None
    fields: dict[str, str]
    email_subject: str | None = None
    email_html: str | None = None
    email_text: str | None = None


@dataclass
class Preview:
    """What the preview panel shows; ``errors`` maps a form field to its problem."""

    channel: str | None = None
    arms: list[Arm] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def parse_sample(raw: str | None) -> dict[str, Any]:
    """Return the sample ``data`` object; ValidationError naming "sample" when it is not one."""
    text = (raw or "").strip() or "{}"
    if len(text) > MAX_SAMPLE:
        raise ValidationError("sample too long", fields={"sample": f"at most {MAX_SAMPLE} bytes"})
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "sample is not JSON", fields={"sample": f"line {exc.lineno}: {exc.msg}"}
        ) from None
    if not isinstance(value, dict):
        raise ValidationError("sample must be an object", fields={"sample": "a JSON object"})
    return value


def preview(doc: dict[str, Any], sample: str | None, user: User, tenant: Tenant) -> Preview:
    """Render ``doc`` for ``user`` with the sample data; problems come back as form errors."""
    out = Preview(channel=doc.get("channel"))
    try:
        clean = validate_template(doc)
    except ValidationError as exc:
        out.errors.update(exc.fields)
    try:
        data = parse_sample(sample)
    except ValidationError as exc:
        out.errors.update(exc.fields)
    if out.errors:
        return out
    tpl = compile_row(0, clean["channel"], clean["locale"], clean)
    info = {"id": user.id, "email": user.email, "locale": user.locale, "timezone": user.timezone}
    context = {
        "data": scoped(data, "data"),
        "user": scoped({} if tpl.channel == "chat" else info, "user"),
        "tenant": scoped({"name": tenant.name}, "tenant"),
    }
    arms: list[dict[str, Any] | None] = [None, *tpl.variants]
    try:
        out.arms = [_arm(tpl, context, arm, user, tenant) for arm in arms]
    except ValidationError as exc:
        # A variable the sample lacks: say so on the sample, where the admin can add it.
        out.errors["sample"] = exc.message
    return out


def _arm(
    tpl: Compiled, context: dict[str, Any], arm: dict[str, Any] | None, user: User, tenant: Tenant
) -> Arm:
    rendered = render_fields(tpl, context, arm)
    result = Arm(
        name=str(arm["name"]) if arm else None,
        weight=int(arm["weight"]) if arm else None,
        fields=rendered,
    )
    if tpl.channel == "email":
        item = channel_payload("email", {"title": "", "body": "", "url": None}, rendered)
        job = DeliveryJob(
            delivery_id=0,
            channel="email",
            user_id=user.id,
            tenant_id=tenant.id,
            target=user.email,
            items=[item],
            extra={
                "tenant_name": tenant.name,
                "brand_color": tenant.brand_color,
                "logo_url": tenant.logo_url,
            },
        )
        result.email_subject = subject_for(job)
        result.email_html = render_html(job)
        result.email_text = render_text(job)
    return result
