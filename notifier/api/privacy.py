"""Privacy routes (CONTRACT §11): export and erase a user, per-tenant notification retention."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from notifier.api import bp
from notifier.api.contract import parse
from notifier.api.contract_privacy import EraseConfirmation, TenantPatch
from notifier.auth import api_auth
from notifier.service import privacy, retention
from notifier.service.errors import Conflict


def _download(doc: dict[str, Any], user_id: int) -> Any:
    resp = jsonify(doc)
    resp.headers["Content-Disposition"] = f'attachment; filename="notifier-user-{user_id}.json"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/me/export")
@api_auth()
def export_me() -> Any:
    """Return everything stored about the caller as one JSON document (no secrets)."""
    return _download(privacy.export_user(g.user), g.user.id)


@bp.delete("/me")
@api_auth()
def erase_me() -> Any:
    """Erase the caller and every row about them; the body confirms with the password."""
    privacy.erase_self(g.user, parse(EraseConfirmation).password)
    return "", 204


@bp.get("/users/<int:user_id>/export")
@api_auth(admin=True)
def export_user(user_id: int) -> Any:
    """Return everything stored about a user of the admin's tenant (404 for any other)."""
    user = privacy.tenant_user(g.user.tenant_id, user_id)
    doc = privacy.export_user(user)
    privacy.record_export(user, g.user)
    return _download(doc, user.id)


@bp.delete("/users/<int:user_id>")
@api_auth(admin=True)
def erase_user(user_id: int) -> Any:
    """Erase a user of the admin's tenant; the admin's own account goes through DELETE /me."""
    user = privacy.tenant_user(g.user.tenant_id, user_id)
    if user.id == g.user.id:
        raise Conflict("erase your own account with DELETE /api/v1/me", code="is_self")
    privacy.erase_user(user, g.user)
    return "", 204


@bp.get("/tenant")
@api_auth(admin=True)
def get_tenant() -> Any:
    """Return the admin's tenant settings (notification retention)."""
    return jsonify(retention.tenant_dict(g.user.tenant))


@bp.patch("/tenant")
@api_auth(admin=True)
def patch_tenant() -> Any:
    """Set ``retention_days``: notifications older than that are deleted (null keeps them)."""
    patch = parse(TenantPatch)
    tenant = g.user.tenant
    if "retention_days" in patch.model_fields_set:
        tenant = retention.set_retention(tenant, patch.retention_days)
    return jsonify(retention.tenant_dict(tenant))
