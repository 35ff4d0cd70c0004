"""Template routes (admin, CONTRACT §10): list, add, read, replace and delete the tenant's."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from notifier.api import bp
from notifier.api.contract import parse
from notifier.api.contract_templates import TemplateRequest
from notifier.auth import api_auth
from notifier.service import templates


def _doc(req: TemplateRequest) -> dict[str, Any]:
    return req.model_dump(exclude_none=True)


@bp.get("/templates")
@api_auth(admin=True)
def list_templates() -> Any:
    """List the tenant's templates by type, channel and locale."""
    return jsonify(
        {"items": [templates.template_dict(t) for t in templates.list_for(g.user.tenant_id)]}
    )


@bp.post("/templates")
@api_auth(admin=True)
def create_template() -> Any:
    """Add a template; every field compiles in the sandbox first (422 naming field and line)."""
    row = templates.save(g.user.tenant_id, _doc(parse(TemplateRequest, "invalid template")))
    return jsonify(templates.template_dict(row)), 201


@bp.get("/templates/<int:template_id>")
@api_auth(admin=True)
def get_template(template_id: int) -> Any:
    """Return one template of the tenant (404 for another tenant's)."""
    return jsonify(templates.template_dict(templates.get(g.user.tenant_id, template_id)))


@bp.put("/templates/<int:template_id>")
@api_auth(admin=True)
def replace_template(template_id: int) -> Any:
    """Replace a template of the tenant with the body."""
    doc = _doc(parse(TemplateRequest, "invalid template"))
    row = templates.save(g.user.tenant_id, doc, template_id)
    return jsonify(templates.template_dict(row))


@bp.delete("/templates/<int:template_id>")
@api_auth(admin=True)
def delete_template(template_id: int) -> Any:
    """Delete a template of the tenant; 204."""
    templates.delete(g.user.tenant_id, template_id)
    return "", 204
