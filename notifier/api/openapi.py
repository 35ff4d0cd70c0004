"""Serve the OpenAPI 3.1 document, generated from the contract models (no auth: read first).

The operations and their models live in ``contract_*.py`` (see ``contract.py`` for how to add
some); ``openapi_common`` holds what is not a JSON body (parameters, shared error responses,
security schemes).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from flask import current_app, jsonify
from pydantic.json_schema import models_json_schema

from notifier.api import (  # noqa: F401 - the contract modules register their operations
    bp,
    contract_accounts,
    contract_analytics,
    contract_channels,
    contract_embed,
    contract_inbox,
    contract_inboxux,
    contract_integrations,
    contract_privacy,
    contract_states,
    contract_stream,
    contract_templates,
    contract_workflows,
    contract_ws,
)
from notifier.api.contract import MODELS, OPERATIONS
from notifier.api.fields import timezone_schema
from notifier.api.openapi_common import RESPONSES, SECURITY_SCHEMES
from notifier.config import Config


def _tidy(node: Any) -> Any:
    """Drop pydantic's generated titles and ``default: null`` (an optional field's marker).

    So ``x: T = None`` documents a field that may be left out but is not nullable.

    A ``title`` whose value is a dict is a property named title, not the keyword: kept.
    """
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node.get("patternProperties", ())) == 1:
        # A dict with constrained keys: pydantic refuses any other key, so the document must
        # too (patternProperties alone would let other keys through unchecked).
        node = dict(node)
        ((pattern, values),) = node.pop("patternProperties").items()
        node |= {"propertyNames": {"pattern": pattern}, "additionalProperties": values}
    return {
        key: _tidy(value)
        for key, value in node.items()
        if not (key == "title" and isinstance(value, str))
        and not (key == "default" and value is None)
    }


@cache
def model_schemas() -> dict[str, Any]:
    """Return the component schemas of every contract model (built once per process)."""
    _, top = models_json_schema(
        [(model, "validation") for model in MODELS.values()],
        ref_template="#/components/schemas/{model}",
    )
    return _tidy(top.get("$defs", {}))


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for item in OPERATIONS:
        methods = paths.setdefault(item.path, {})
        if item.method in methods:  # two modules declaring one operation: one would be lost
            raise ValueError(f"{item.method.upper()} {item.path} is declared twice")
        methods[item.method] = item.render()
    return paths


def document(mandatory_types: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Return the whole document; tests hold its paths to the app's url_map both ways.

    ``mandatory_types``: the types whose in-app switch stays on (NOTIFIER_MANDATORY_TYPES; the
    default configuration's when not given).
    """
    mandatory = Config.NOTIFIER_MANDATORY_TYPES if mandatory_types is None else mandatory_types
    schemas = copy.deepcopy(model_schemas())  # the callers (tests) may change it
    schemas["Preferences"] = contract_accounts.preferences_schema(
        schemas["Preferences"], tuple(mandatory)
    )
    schemas["TimeZone"] = timezone_schema()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Notifier API",
            "version": "1",
            "description": "Real-time notification center. JSON in and out; every error is "
            '`{"error": {"code", "message", "fields"}}`; times are ISO 8601 UTC with Z; '
            "ids are integers and entity_id is a string. No string may hold NUL or a lone "
            "surrogate (422; on PostgreSQL ids of users and most rows stop at 2^31-1).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "responses": RESPONSES,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    """Return the OpenAPI 3.1 document of this API."""
    return jsonify(document(tuple(current_app.config.get("NOTIFIER_MANDATORY_TYPES", ()))))
