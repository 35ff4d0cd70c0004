"""A tenant's email branding (CONTRACT §10): the colour and logo of the shared email layout."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from notifier.extensions import db
from notifier.models import Tenant
from notifier.service import clean
from notifier.service.errors import NotFound, ValidationError

COLOR_RE = re.compile(r"\A#[0-9a-fA-F]{6}\Z")
MAX_LOGO_URL = 500


def _logo(value: str) -> str | None:
    """Say why a logo URL is refused: it must be https (mail clients block the rest)."""
    if len(value) > MAX_LOGO_URL:
        return f"at most {MAX_LOGO_URL} characters"
    if clean.bad_chars(value) or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "must be an https:// URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// URL"
    return None


def set_branding(tenant_id: int, brand_color: Any, logo_url: Any) -> Tenant:
    """Set (or clear, with "" or None) the tenant's brand colour and logo; 422 naming a field."""
    errors: dict[str, str] = {}
    color = (brand_color or "").strip() if isinstance(brand_color, str | type(None)) else None
    logo = (logo_url or "").strip() if isinstance(logo_url, str | type(None)) else None
    if color is None or (color and not COLOR_RE.fullmatch(color)):
        errors["brand_color"] = 'a colour as "#rrggbb"'
    if logo is None:
        errors["logo_url"] = "must be an https:// URL"
    elif logo and (problem := _logo(logo)):
        errors["logo_url"] = problem
    if errors:
        raise ValidationError("invalid branding", fields=errors)
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    tenant.brand_color = color.lower() if color else None
    tenant.logo_url = logo or None
    db.session.commit()
    return tenant
