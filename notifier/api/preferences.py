"""Preference routes: read, replace (PUT) and merge (PATCH) the caller's preferences."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from notifier.api import bp
from notifier.api.contract import validate
from notifier.api.contract_accounts import Preferences
from notifier.api.request import json_body
from notifier.auth import api_auth
from notifier.service import preferences


@bp.get("/preferences")
@api_auth()
def get_preferences() -> Any:
    """Return the caller's preferences with defaults filled in."""
    return jsonify(preferences.get_preferences(g.user.id))


@bp.put("/preferences")
@api_auth()
def replace_preferences() -> Any:
    """Replace the caller's preferences; fields left out fall back to the defaults."""
    return jsonify(preferences.set_preferences(g.user, _checked(), merge=False))


@bp.patch("/preferences")
@api_auth()
def merge_preferences() -> Any:
    """Merge the body into the caller's preferences (nested objects merge key by key)."""
    return jsonify(preferences.set_preferences(g.user, _checked(), merge=True))


def _checked() -> dict[str, Any]:
    """Return the body once its shape is the document's Preferences (422 otherwise).

    The service then applies the rules that depend on the server and the stored document:
    mandatory types and the cap on the number of types.
    """
    body = json_body()
    validate(Preferences, body, "invalid preferences")
    return body
