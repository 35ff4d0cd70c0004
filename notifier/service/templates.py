"""Notification templates of a tenant (CONTRACT §10): save them checked, load them for a publish.

A template is the text of one type on one channel in one locale. Saving compiles every field
in the sandbox (:mod:`.template_render`), so a syntax error is a 422 naming the field and the
line and nothing is stored. A publish calls :func:`prepare` before ``notify_plan.plan()``: one
query for the type's templates (none: None, and the publish is unchanged), and the
recipients' template variables only when a template needs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from notifier.extensions import db
from notifier.models import Tenant, User, utcnow
from notifier.models_flows import Template
from notifier.service import clean
from notifier.service.errors import Conflict, NotFound, ValidationError
from notifier.service.preferences import TYPE_RE
from notifier.service.serialize import iso
from notifier.service.template_render import (
    LIMITS,
    TEMPLATE_CHANNELS,
    USER_FIELDS,
    VARIANT_FIELDS,
    Compiled,
    Rendering,
    compile_row,
)
from notifier.service.template_sandbox import scoped

LOCALE_PATTERN = "^[a-z]{2,3}(-[A-Za-z0-9]{2,6})?$"  # at most 10 characters, as stored
VARIANT_NAME_PATTERN = "^[A-Za-z0-9_.:-]{1,40}$"
LOCALE_RE = re.compile(r"\A[a-z]{2,3}(?:-[A-Za-z0-9]{2,6})?\Z")
VARIANT_NAME_RE = re.compile(r"\A[A-Za-z0-9_.:-]{1,40}\Z")
MAX_VARIANTS = 10
MAX_WEIGHT = 1000
SOURCE_LIMITS = {"title": 2000, "subject": 2000, "body": 20_000, "html": 100_000}
FIELDS = ("type", "channel", "locale", "title", "body", "subject", "html", "variants")
CHUNK = 1000


def _text(doc: Mapping[str, Any], key: str, errors: dict[str, str], *, prefix: str = "") -> str:
    value = doc.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[prefix + key] = "must be a string"
        return ""
    if len(value) > SOURCE_LIMITS[key]:
        errors[prefix + key] = f"at most {SOURCE_LIMITS[key]} characters"
    elif reason := clean.bad_chars(value):
        errors[prefix + key] = reason
    return value


def _variants(value: Any, errors: dict[str, str]) -> list[dict[str, Any]] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) > MAX_VARIANTS:
        errors["variants"] = f"a list of at most {MAX_VARIANTS} variants"
        return None
    out: list[dict[str, Any]] = []
    for i, arm in enumerate(value):
        key = f"variants.{i}"
        if not isinstance(arm, dict):
            errors[key] = "must be an object"
            continue
        if unknown := [k for k in arm if k not in ("name", "weight", *VARIANT_FIELDS)]:
            errors[f"{key}.{unknown[0]}"] = "unknown field"
            continue
        name, weight = arm.get("name"), arm.get("weight")
        if not isinstance(name, str) or not VARIANT_NAME_RE.fullmatch(name):
            errors[f"{key}.name"] = "letters, digits and _.:- only, at most 40"
        elif any(o["name"] == name for o in out):
            errors[f"{key}.name"] = "each variant needs its own name"
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            errors[f"{key}.weight"] = f"an integer from 0 to {MAX_WEIGHT}"
        clean_arm: dict[str, Any] = {"name": name, "weight": weight}
        for f in VARIANT_FIELDS:
            if arm.get(f) is not None:
                clean_arm[f] = _text(arm, f, errors, prefix=f"{key}.")
        out.append(clean_arm)
    return out  # all weights 0: no experiment runs (every user gets the template's text)


def validate_template(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return the cleaned template, compiled once to prove it renders; 422 naming each field."""
    errors: dict[str, str] = {}
    if unknown := [k for k in doc if k not in FIELDS]:
        errors[unknown[0]] = "unknown field"
    ntype, channel, locale = doc.get("type"), doc.get("channel"), doc.get("locale") or "en"
    if not isinstance(ntype, str) or not TYPE_RE.fullmatch(ntype):
        errors["type"] = "letters, digits and _.:- only, at most 64"
    if channel not in TEMPLATE_CHANNELS:
        errors["channel"] = "one of " + ", ".join(TEMPLATE_CHANNELS)
    if not isinstance(locale, str) or not LOCALE_RE.fullmatch(locale):
        errors["locale"] = 'a language tag such as "en" or "pt-BR"'
    out: dict[str, Any] = {"type": ntype, "channel": channel, "locale": locale}
    for key in ("title", "body", "subject", "html"):
        out[key] = _text(doc, key, errors) or (None if key in ("subject", "html") else "")
    out["variants"] = _variants(doc.get("variants"), errors)
    if not errors:
        try:
            compile_row(0, str(channel), str(locale), out)
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        first = next(iter(errors.items()))
        raise ValidationError(f"{first[0]}: {first[1]}", fields=errors)
    return out


def list_for(tenant_id: int) -> list[Template]:
    """Return the tenant's templates by type, channel and locale."""
    return list(
        db.session.scalars(
            select(Template)
            .where(Template.tenant_id == tenant_id)
            .order_by(Template.type, Template.channel, Template.locale)
        )
    )


def get(tenant_id: int, template_id: int) -> Template:
    """Return one template of the tenant; NotFound for a missing or another tenant's one."""
    row = db.session.get(Template, template_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("no such template")
    return row


def save(tenant_id: int, doc: Mapping[str, Any], template_id: int | None = None) -> Template:
    """Create (``template_id`` None) or replace a template; 409 when the key is taken."""
    row = Template(tenant_id=tenant_id) if template_id is None else get(tenant_id, template_id)
    clean_doc = validate_template(doc)
    for key, value in clean_doc.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            "a template for this type, channel and locale exists",
            code="template_exists",
            fields={"locale": "a template for this type, channel and locale exists"},
        ) from None
    return row


def delete(tenant_id: int, template_id: int) -> None:
    """Delete one template of the tenant."""
    db.session.delete(get(tenant_id, template_id))
    db.session.commit()


def template_dict(row: Template) -> dict[str, Any]:
    """Return the API's representation of a template."""
    return {
        "id": row.id,
        "type": row.type,
        "channel": row.channel,
        "locale": row.locale,
        "title": row.title or "",
        "body": row.body or "",
        "subject": row.subject,
        "html": row.html,
        "variants": row.variants or [],
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def compiled(row: Template) -> Compiled:
    """Compile a stored row (it compiled when saved, so this does not fail)."""
    return compile_row(row.id, row.channel, row.locale, template_dict(row))


def prepare(
    tenant_id: int, content: Mapping[str, Any], user_ids: Sequence[int]
) -> Rendering | None:
    """Load what rendering ``content`` needs for these recipients; None without a template.

    One indexed query for the type's templates on the wanted channels; the recipients'
    variables (id, email, locale, timezone; never the password hash) only when a template
    uses ``user`` or some template is not in "en" (the locale then picks it).
    """
    wanted = set(content.get("channels") or TEMPLATE_CHANNELS)
    rows = [
        r
        for r in db.session.scalars(
            select(Template).where(
                Template.tenant_id == tenant_id, Template.type == content["type"]
            )
        )
        if r.channel in wanted
    ]
    if not rows:
        return None
    templates = {(r.channel, r.locale.lower()): compiled(r) for r in rows}
    tenant = db.session.get(Tenant, tenant_id)
    rendering = Rendering(
        templates,
        data=scoped(content.get("data") or {}, "data"),
        tenant=scoped({"name": tenant.name if tenant else ""}, "tenant"),
    )
    if any(t.uses_user or t.locale != "en" for t in templates.values()):
        rendering.users = _users(list(dict.fromkeys(user_ids)))
    return rendering


def _users(ids: list[int]) -> dict[int, dict[str, Any]]:
    cols = [getattr(User, f) for f in USER_FIELDS]
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), CHUNK):
        for row in db.session.execute(select(*cols).where(User.id.in_(ids[i : i + CHUNK]))):
            out[row[0]] = dict(zip(USER_FIELDS, row, strict=True))
    return out


def check(tenant_id: int, content: Mapping[str, Any], user_ids: Sequence[int]) -> None:
    """Render for every recipient now, storing nothing; 422 naming a missing variable.

    A scheduled send calls it when it is accepted, so a publish that could never render is
    refused then rather than failing at send time.
    """
    rendering = prepare(tenant_id, content, user_ids)
    if rendering is None:
        return
    channels = content.get("channels") or TEMPLATE_CHANNELS
    for uid in dict.fromkeys(user_ids):
        rendering.for_user(uid, channels)
    if "chat" in channels:
        rendering.for_tenant()


__all__ = ["LIMITS", "check", "delete", "get", "list_for", "prepare", "save", "template_dict"]
