"""Create the benchmark's tenants, users and tokens in bulk; print them as JSON.

``python -m bench.seed SIZE [SIZE ...]`` against the database in ``DATABASE_URL`` (already
migrated): one tenant per SIZE, each with one admin (who publishes) and SIZE members, each
member with an API token and a stream token minted from it (what a browser would hold).
Bulk Core inserts, so 10,000 users take a second, not minutes of ORM round trips.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys

from sqlalchemy import insert, select

from notifier import create_app
from notifier.extensions import db
from notifier.models import ApiToken, EventCursor, User
from notifier.service import accounts


def token_rows(user_ids: list[int]) -> tuple[list[dict], list[str]]:
    """Return ApiToken rows for ``user_ids`` and their plaintexts."""
    plain = [accounts.TOKEN_PREFIX + secrets.token_urlsafe(24) for _ in user_ids]
    rows = [
        {
            "user_id": uid,
            "name": "bench",
            "token_hash": hashlib.sha256(tok.encode()).hexdigest(),
            "prefix": tok[:12],
        }
        for uid, tok in zip(user_ids, plain, strict=True)
    ]
    return rows, plain


def seed(sizes: list[int]) -> dict:
    """Create the tenants; return their ids, admin tokens and users ([id, stream token])."""
    out = []
    for n, size in enumerate(sizes):
        tenant = accounts.get_or_create_tenant(f"bench{n}")
        base = {"tenant_id": tenant.id, "password_hash": "x", "timezone": "UTC", "active": True}
        db.session.execute(
            insert(User),
            [{**base, "email": f"admin@t{n}.bench.example.com", "role": "admin"}]
            + [
                {**base, "email": f"u{i}@t{n}.bench.example.com", "role": "member"}
                for i in range(size)
            ],
        )
        ids = list(
            db.session.scalars(select(User.id).where(User.tenant_id == tenant.id).order_by(User.id))
        )
        rows, plain = token_rows(ids)
        db.session.execute(insert(ApiToken), rows)
        # As create_user() does: every user starts with its cursor row (value 0).
        db.session.execute(insert(EventCursor), [{"user_id": uid, "value": 0} for uid in ids])
        db.session.commit()
        token_ids = dict(
            db.session.execute(
                select(ApiToken.user_id, ApiToken.id).where(ApiToken.user_id.in_(ids))
            ).all()
        )
        users = []
        for uid in ids[1:]:
            stub = User(id=uid)  # create_stream_token reads only the id
            stream, _ = accounts.create_stream_token(stub, ("token", token_ids[uid]))
            users.append([uid, stream])
        out.append({"id": tenant.id, "admin_token": plain[0], "users": users})
    return {"tenants": out}


def main() -> None:
    """Seed and print the JSON document."""
    app = create_app()
    with app.app_context():
        doc = seed([int(s) for s in sys.argv[1:]])
    json.dump(doc, sys.stdout)


if __name__ == "__main__":
    main()
