"""Flask CLI of CONTRACT §3: init-db, create-user, create-token, send, seed-demo, vapid-keys.

Also ``deactivate-user EMAIL [--reactivate]`` (CONTRACT §8: deactivation closes streams).

Also ``selftest URL``: what the proxy path in front of the app does to a stream (issue 8.12).
"""

from __future__ import annotations

import secrets
import sys
from contextlib import AbstractContextManager

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import User
from notifier.service import ServiceError, accounts, sessions
from notifier.service import notify as notify_svc
from notifier.service.content import validate_content

DEMO_TENANT = "demo"
DEMO_USERS = (
    ("admin@example.com", "admin-demo-pass", "admin"),
    ("alice@example.com", "alice-demo-pass", "member"),
    ("bob@example.com", "bob-demo-pass", "member"),
)
DEMO_NOTES = (
    ("alice@example.com", "comment", "Bob commented on your report", "Looks good to me.", "normal"),
    (
        "alice@example.com",
        "mention",
        "You were mentioned in #general",
        "@alice can you check?",
        "high",
    ),
    ("alice@example.com", "system", "Maintenance tonight at 22:00 UTC", "", "low"),
    ("alice@example.com", "security", "New sign-in from Firefox on Linux", "", "urgent"),
    ("bob@example.com", "billing", "Your invoice is ready", "Invoice #1042", "normal"),
    ("bob@example.com", "comment", "Alice replied to your comment", "Thanks!", "normal"),
)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the database or upgrade it to the newest migration."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the admin role.")
@click.option("--tenant", default="default", show_default=True)
@click.option("--password", default=None, help="Generated and printed when omitted.")
def create_user(email: str, admin: bool, tenant: str, password: str | None) -> None:
    """Create a user (an existing email is an error)."""
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        user = accounts.create_user(
            email,
            password,
            tenant=accounts.get_or_create_tenant(tenant),
            role="admin" if admin else "member",
        )
    except ServiceError as exc:
        db.session.rollback()
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message
        _fail(detail)
        return
    click.echo(f"created user {user.id} {user.email}")
    if generated:
        click.echo(f"password: {password}")


@click.command("create-token")
@with_appcontext
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
def create_token(email: str, name: str) -> None:
    """Create an API token and print it (shown only this once)."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"no user {email}")
        return
    click.echo(accounts.create_token(user, name))


@click.command("deactivate-user")
@with_appcontext
@click.argument("email")
@click.option("--reactivate", is_flag=True, help="Let the user sign in again instead.")
def deactivate_user(email: str, reactivate: bool) -> None:
    """Deactivate a user: every sign-in ends, tokens stop working, open streams close."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"no user {email}")
        return
    if reactivate:
        user.active = True
        db.session.commit()
        click.echo(f"reactivated user {user.id} {user.email}")
        return
    # The close message travels the bus: with REDIS_URL it reaches every server process. On the
    # in-memory bus this command's process cannot reach the server's streams; they stay open
    # until they reconnect, which is then refused (docs/operations.md).
    sessions.deactivate_user(user)
    click.echo(f"deactivated user {user.id} {user.email}")


@click.command("send")
@with_appcontext
@click.option("--to", "to", required=True, help="Recipient email.")
@click.option("--type", "ntype", required=True)
@click.option("--title", required=True)
@click.option("--body", default="")
@click.option("--priority", default="normal", show_default=True)
@click.option("--url", default=None)
def send(to: str, ntype: str, title: str, body: str, priority: str, url: str | None) -> None:
    """Send a notification to one user through the service (stored, logged, published)."""
    user = db.session.scalar(select(User).where(User.email == to.strip().lower()))
    if user is None:
        _fail(f"no user {to}")
        return
    try:
        content = validate_content(
            {"type": ntype, "title": title, "body": body, "priority": priority, "url": url}
        )
        result = notify_svc.notify(user.tenant_id, content, [user.id], sender_id=None)
    except ServiceError as exc:
        _fail("; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message)
        return
    click.echo(f"sent notification {result.ids[0] if result.ids else '-'} to {user.email}")


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo tenant, one admin, two members and a few notifications (idempotent)."""
    existing = db.session.scalar(select(User).where(User.email == DEMO_USERS[0][0]))
    if existing is None:
        tenant = accounts.get_or_create_tenant(DEMO_TENANT)
        users = {}
        for email, password, role in DEMO_USERS:
            users[email] = accounts.create_user(
                email, password, tenant=tenant, role=role, timezone="Europe/Amsterdam"
            )
        for email, ntype, title, body, priority in DEMO_NOTES:
            content = validate_content(
                {
                    "type": ntype,
                    "title": title,
                    "body": body,
                    "priority": priority,
                    "tags": ["demo"],
                    "channels": ["in_app"],
                }
            )
            notify_svc.notify(tenant.id, content, [users[email].id], sender_id=None)
        click.echo("demo data created")
    click.echo(f'Demo logins (tenant "{DEMO_TENANT}"):')
    for email, password, role in DEMO_USERS:
        click.echo(f"  {role:<7} {email:<20} password: {password}")


@click.command("vapid-keys")
@with_appcontext
def vapid_keys() -> None:
    """Generate a VAPID key pair for NOTIFIER_VAPID_PUBLIC_KEY / _PRIVATE_KEY."""
    from notifier.channels.push import generate_vapid_keys

    public, private = generate_vapid_keys()
    click.echo(f"NOTIFIER_VAPID_PUBLIC_KEY={public}")
    click.echo(f"NOTIFIER_VAPID_PRIVATE_KEY={private}")


@click.command("selftest")
@with_appcontext
@click.argument("url")
@click.option("--token", default=None, help="An admin API token (else a temporary one is made).")
@click.option("--email", default=None, help="The admin to test as (default: the first admin).")
@click.option("--idle-bound", default=90.0, show_default=True, help="Seconds to hold the stream.")
@click.option(
    "--event-timeout", default=5.0, show_default=True, help="Seconds to wait for the event."
)
def selftest_cmd(
    url: str, token: str | None, email: str | None, idle_bound: float, event_timeout: float
) -> None:
    """Open a stream through the public URL; report TTFB, buffering and the idle cut-off.

    Exit status 1 when a problem was found (buffering, a cut-off at or below the ping interval).
    """
    from contextlib import nullcontext

    from notifier import selftest

    ping = float(current_app.config["NOTIFIER_PING_INTERVAL"])
    if token is None:
        query = select(User).where(User.role == "admin", User.active.is_(True))
        if email:
            query = select(User).where(User.email == email.strip().lower())
        admin = db.session.scalar(query.order_by(User.id))
        if admin is None or not admin.is_admin:
            _fail(f"no admin user {email or ''}".strip() + "; pass --email or --token")
            return
        tokens: AbstractContextManager[str] = selftest.temporary_token(admin)
    else:
        tokens = nullcontext(token)
    with tokens as bearer:
        result = selftest.run(
            url, bearer, ping_interval=ping, idle_bound=idle_bound, event_timeout=event_timeout
        )
    for line in result.lines():
        click.echo(line)
    if result.problems:
        sys.exit(1)


def init_app(app: Flask) -> None:
    """Register the commands on the app's CLI group."""
    commands = (init_db, create_user, create_token, deactivate_user, send, seed_demo, vapid_keys)
    from notifier.cli_privacy import COMMANDS as privacy_commands

    for cmd in (*commands, selftest_cmd, *privacy_commands):
        app.cli.add_command(cmd)
