"""Who: tenants, users, their tokens and sign-ins, preferences, embeds and the privacy audit."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from notifier.models.base import Model, utcnow


class Tenant(Model):
    """An isolated organisation: users and data never cross tenants."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Notifications older than this many days are deleted by the prune loop; None keeps them.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # Email branding for the shared template layout (CONTRACT §10): "#rrggbb" and an https URL.
    brand_color: Mapped[str | None] = mapped_column(String(7))
    logo_url: Mapped[str | None] = mapped_column(String(500))


class User(UserMixin, Model):
    """A person who logs in and receives notifications."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default="member")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Picks the page language and the template locale (CONTRACT §10), falling back to "en".
    locale: Mapped[str] = mapped_column(String(10), default="en", server_default="en")
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    tenant: Mapped[Tenant] = relationship(lazy="joined")

    # Set per request (not columns): the sign-in this user object was loaded through.
    if TYPE_CHECKING:  # plain attributes, not columns: declared here for type checkers only
        login_token: str | None
        login_session_id: int | None
    login_token = None  # the plaintext session token while logging in or loaded from a cookie
    login_session_id = None  # the UserSession row id, so streams opened with it can be closed

    def get_id(self) -> str:
        """Return "<user id>:<session token>", what Flask-Login keeps in both cookies.

        The token names one server-side sign-in (a UserSession row), so logout, which deletes
        the row, makes every copy of the session and "keep me signed in" cookies worthless.
        """
        if not self.login_token:
            raise RuntimeError("start a session (accounts.start_session) before login_user")
        return f"{self.id}:{self.login_token}"

    @property
    def is_admin(self) -> bool:
        """Return True for the admin role."""
        return self.role == "admin"

    @property
    def is_active(self) -> bool:
        """Let Flask-Login refuse deactivated accounts."""
        return self.active


class ApiToken(Model):
    """A named bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="default")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class UserSession(Model):
    """One sign-in through the login form; only its token's SHA-256 is stored.

    Logout deletes the row, which ends that sign-in everywhere: the session cookie, the
    remember cookie and the streams opened with them (CONTRACT §8).
    """

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    # Joined: each request loads its user through this row, in one query.
    user: Mapped[User] = relationship(lazy="joined")


class Preference(Model):
    """A user's preferences document (channels, type matrix, quiet hours, digest)."""

    __tablename__ = "preferences"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class AuditEntry(Model):
    """A privacy action (export, erase) recorded without personal data.

    ``subject`` and ``actor`` are opaque: a keyed hash of the user id (service/privacy.py),
    or a role word such as ``cli``, so the entry survives the erasure it records.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class TenantEmbed(Model):
    """A tenant's embeddable-inbox settings: the signing secret and the host origins allowed.

    The secret is shown to admins, so it is stored reversibly, but encrypted (AES-GCM under a
    key derived from SECRET_KEY, service/embed.py): a copy of the database alone does not let
    anyone sign users in.
    """

    __tablename__ = "tenant_embeds"
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    secret_enc: Mapped[str] = mapped_column(String(200))
    origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
