"""Chat integration routes (admin): register, list and retire Slack and Discord webhooks."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import current_app, g, jsonify

from notifier.api import bp
from notifier.api.contract import parse
from notifier.api.contract_integrations import NewIntegration
from notifier.auth import api_auth
from notifier.channels.chat import url_hint, validate_chat_url
from notifier.service import integrations


@bp.post("/integrations")
@api_auth(admin=True)
def create_integration() -> Any:
    """Register a Slack or Discord incoming webhook for the tenant's notifications."""
    new = parse(NewIntegration, "invalid integration")
    allow_private = bool(current_app.config.get("NOTIFIER_WEBHOOK_ALLOW_PRIVATE"))
    row = integrations.create(
        g.user.tenant_id,
        new.model_dump(),
        check_url=partial(validate_chat_url, allow_private=allow_private),
    )
    return jsonify(integrations.integration_dict(row, url_hint)), 201


@bp.get("/integrations")
@api_auth(admin=True)
def list_integrations() -> Any:
    """List the tenant's integrations; each URL only as a hint (it is the secret)."""
    rows = integrations.list_for(g.user.tenant_id)
    return jsonify({"items": [integrations.integration_dict(r, url_hint) for r in rows]})


@bp.delete("/integrations/<int:integration_id>")
@api_auth(admin=True)
def delete_integration(integration_id: int) -> Any:
    """Retire an integration of the tenant; 404 for another tenant's."""
    integrations.delete(g.user.tenant_id, integration_id)
    return "", 204
