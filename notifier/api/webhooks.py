"""Webhook routes (admin): register, list and retire the tenant's webhook endpoints."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import current_app, g, jsonify

from notifier.api import bp
from notifier.api.contract import parse
from notifier.api.contract_channels import NewWebhook
from notifier.auth import api_auth
from notifier.channels.webhook import validate_webhook_url
from notifier.service import webhooks
from notifier.service.serialize import webhook_dict


@bp.post("/webhooks")
@api_auth(admin=True)
def create_webhook() -> Any:
    """Register an endpoint; the answer carries the signing secret, shown this once."""
    new = parse(NewWebhook, "invalid webhook")
    allow_private = bool(current_app.config.get("NOTIFIER_WEBHOOK_ALLOW_PRIVATE"))
    row = webhooks.create_webhook(
        g.user.tenant_id,
        new.url,
        new.types,
        check_url=partial(validate_webhook_url, allow_private=allow_private),
    )
    return jsonify(webhook_dict(row, with_secret=True)), 201


@bp.get("/webhooks")
@api_auth(admin=True)
def list_webhooks() -> Any:
    """List the tenant's endpoints without their secrets."""
    return jsonify({"items": [webhook_dict(w) for w in webhooks.list_webhooks(g.user.tenant_id)]})


@bp.delete("/webhooks/<int:webhook_id>")
@api_auth(admin=True)
def delete_webhook(webhook_id: int) -> Any:
    """Retire an endpoint of the tenant; 404 for another tenant's."""
    webhooks.delete_webhook(g.user.tenant_id, webhook_id)
    return "", 204
