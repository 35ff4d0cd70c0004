"""Small factories: tenants, users, tokens and notifications made through the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notifier.models import Tenant, User
from notifier.service import accounts
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content

PASSWORD = "password123"


def make_user(email: str, tenant: str = "acme", role: str = "member", **kw: Any) -> User:
    """Create a user with the shared test password."""
    return accounts.create_user(
        email, PASSWORD, tenant=accounts.get_or_create_tenant(tenant), role=role, **kw
    )


def send(user: User, title: str = "Hello", **fields: Any) -> int:
    """Send one in-app notification to ``user`` through the service; return its id."""
    content = validate_content(
        {"type": "comment", "title": title, "channels": ["in_app"], **fields}
    )
    result = notify_svc.notify(user.tenant_id, content, [user.id], sender_id=None)
    return result.ids[0]


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """Users and tokens of two tenants."""

    acme: Tenant
    globex: Tenant
    admin: User
    alice: User
    bob: User
    carol: User
    admin_token: str
    alice_token: str
    bob_token: str
    carol_token: str

    @property
    def admin_h(self) -> dict[str, str]:
        """Authorization header of the acme admin."""
        return bearer(self.admin_token)

    @property
    def alice_h(self) -> dict[str, str]:
        """Authorization header of alice (acme member)."""
        return bearer(self.alice_token)

    @property
    def bob_h(self) -> dict[str, str]:
        """Authorization header of bob (acme member)."""
        return bearer(self.bob_token)

    @property
    def carol_h(self) -> dict[str, str]:
        """Authorization header of carol (globex admin)."""
        return bearer(self.carol_token)


def make_world() -> World:
    """Create acme (admin, alice, bob) and globex (carol, an admin) with tokens."""
    admin = make_user("admin@example.com", role="admin")
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com")
    carol = make_user("carol@globex.com", tenant="globex", role="admin")
    return World(
        acme=admin.tenant,
        globex=carol.tenant,
        admin=admin,
        alice=alice,
        bob=bob,
        carol=carol,
        admin_token=accounts.create_token(admin),
        alice_token=accounts.create_token(alice),
        bob_token=accounts.create_token(bob),
        carol_token=accounts.create_token(carol),
    )
