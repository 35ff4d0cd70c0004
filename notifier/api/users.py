"""Account routes: the caller's profile, users of a tenant, API tokens, stream tokens."""

from __future__ import annotations

import secrets
from typing import Any

from flask import g, jsonify, request

from notifier.api import bp
from notifier.api.contract import parse
from notifier.api.contract_accounts import NewToken, NewUser, ProfilePatch
from notifier.api.request import limit_arg
from notifier.auth import api_auth, credential
from notifier.models import User
from notifier.service import accounts, inbox, tokens
from notifier.service.serialize import token_dict, user_dict


@bp.get("/me")
@api_auth()
def me() -> Any:
    """Return the caller's profile."""
    return jsonify(user_dict(g.user))


@bp.patch("/me")
@api_auth()
def update_me() -> Any:
    """Change the caller's timezone, phone (E.164) or locale; email and role cannot change here."""
    patch = parse(ProfilePatch, "invalid profile")
    return jsonify(user_dict(accounts.update_profile(g.user, patch.model_dump(exclude_unset=True))))


@bp.post("/users")
@api_auth(admin=True)
def create_user() -> Any:
    """Provision a user in the admin's own tenant; 409 when the email is taken."""
    new = parse(NewUser, "invalid user")
    # Like `flask create-user`: no password given → one is generated and shown once.
    generated = None if new.password is not None else secrets.token_urlsafe(12)
    user = accounts.create_user(
        new.email,
        new.password if generated is None else generated,
        tenant=g.user.tenant,
        role=new.role,
        timezone=new.timezone,
        phone=new.phone,
    )
    out = user_dict(user)
    if generated is not None:
        out["password"] = generated
    return jsonify(out), 201


@bp.get("/users")
@api_auth(admin=True)
def list_users() -> Any:
    """List the admin's tenant users, newest first, ``limit`` per page with a ``next`` token."""
    limit = limit_arg()
    before = inbox.parse_before(request.args.get("before"), User.id)
    users, nxt = accounts.list_users(g.user.tenant_id, limit=limit, before=before)
    return jsonify({"items": [user_dict(u) for u in users], "next": nxt})


@bp.get("/tokens")
@api_auth()
def list_tokens() -> Any:
    """List the caller's API tokens (never their secrets)."""
    return jsonify({"items": [token_dict(t) for t in accounts.list_tokens(g.user)]})


@bp.post("/tokens")
@api_auth()
def create_token() -> Any:
    """Create a named API token; the plaintext appears in this answer only."""
    row, token = accounts.issue_token(g.user, parse(NewToken, "invalid token").name)
    return jsonify({"id": row.id, "name": row.name, "token": token}), 201


@bp.delete("/tokens/<int:token_id>")
@api_auth()
def revoke_token(token_id: int) -> Any:
    """Revoke one of the caller's tokens; 404 for anyone else's."""
    accounts.revoke_token(g.user, token_id)
    return "", 204


@bp.post("/stream-token")
@api_auth()
def stream_token() -> Any:
    """Return a short-lived token for ``GET …/stream?token=`` (EventSource sends no headers)."""
    # Names the API token that minted it: revoking that token ends this one too.
    token, ttl = tokens.create_stream_token(g.user, credential())
    return jsonify({"token": token, "expires_in": ttl})
