"""Embedding routes (CONTRACT §11): the tenant's embed settings and the widget's sign-in.

``POST /embed/session`` is the only API route a foreign page calls without a token; CORS is
answered for the tenant's configured origins only, on it and on the inbox routes the widget
then calls with its scoped token (auth.INBOX_ENDPOINTS). A preflight names no tenant yet, so
it is answered for an origin some tenant lists; the real request is then checked against the
signed-in user's own tenant, and refused (403, no CORS headers) from anywhere else.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from notifier.api import bp
from notifier.api.contract import parse
from notifier.api.contract_embed import EmbedOrigins, EmbedSessionRequest
from notifier.auth import INBOX_ENDPOINTS, Unauthorized, api_auth
from notifier.service import clean, embed, tokens
from notifier.service.errors import Forbidden, ValidationError

CORS_ENDPOINTS = INBOX_ENDPOINTS | {"api.embed_session"}
CORS_MAX_AGE = "600"


@bp.get("/embed")
@api_auth(admin=True)
def embed_settings() -> Any:
    """Return the tenant's embed secret and allowed origins (admin)."""
    secret, origins = embed.settings(g.user.tenant_id)
    return jsonify({"secret": secret, "origins": origins})


@bp.put("/embed")
@api_auth(admin=True)
def embed_set_origins() -> Any:
    """Replace the origins allowed to embed the inbox (admin)."""
    origins = embed.set_origins(g.user.tenant_id, parse(EmbedOrigins).origins)
    secret, _ = embed.settings(g.user.tenant_id)
    return jsonify({"secret": secret, "origins": origins})


def _same_origin(origin: str) -> bool:
    return embed.clean_origin(origin) == embed.clean_origin(request.host_url.rstrip("/"))


@bp.post("/embed/session")
def embed_session() -> Any:
    """Trade ``{email, hash}`` (HMAC-SHA256 of the email under the tenant secret) for tokens."""
    body = parse(EmbedSessionRequest)
    for field, value in (("email", body.email), ("hash", body.hash)):
        if reason := clean.bad_chars(value):
            raise ValidationError(f"{field} {reason}", fields={field: reason})
    user = embed.signed_user(body.email, body.hash)
    if user is None:
        raise Unauthorized("the email and hash do not match", code="invalid_hash")
    origin = request.headers.get("Origin")
    if origin and not _same_origin(origin) and not embed.origin_allowed(user.tenant_id, origin):
        raise Forbidden("this origin may not embed the inbox", code="origin_not_allowed")
    g.embed_user = user
    stream_token, _ = tokens.create_stream_token(user, ("embed", user.id))
    return jsonify(
        {"token": embed.create_token(user), "stream_token": stream_token, "expires_in": embed.ttl()}
    )


def _preflight_endpoint() -> str | None:
    """Return the endpoint the preflighted request will reach (GET and POST /notifications
    are two endpoints on one rule; OPTIONS itself matches the first)."""
    method = request.headers.get("Access-Control-Request-Method", "")
    try:
        endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(method=method)
    except HTTPException:
        return None
    return str(endpoint)


@bp.after_request
def _cors(resp: Response) -> Response:
    """Add CORS headers for an allowed embedding origin (see the module docstring)."""
    origin = request.headers.get("Origin")
    endpoint = _preflight_endpoint() if request.method == "OPTIONS" else request.endpoint
    if not origin or endpoint not in CORS_ENDPOINTS or _same_origin(origin):
        return resp
    user = g.get("embed_user")
    if request.method == "OPTIONS":
        allowed = embed.any_tenant_allows(origin)
    elif user is not None:
        allowed = embed.origin_allowed(user.tenant_id, origin)
    else:  # a refused sign-in: let the widget read the error only where some tenant embeds
        allowed = request.endpoint == "api.embed_session" and embed.any_tenant_allows(origin)
    if allowed:
        resp.headers["Access-Control-Allow-Origin"] = embed.clean_origin(origin) or ""
        resp.headers.add("Vary", "Origin")
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT"
            resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            resp.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return resp
