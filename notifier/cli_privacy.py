"""Privacy commands: ``erase-user EMAIL [--yes]`` and ``export-user EMAIL`` (CONTRACT §11)."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from notifier.extensions import db
from notifier.models import User
from notifier.service import privacy


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        click.echo(f"error: no user {email}", err=True)
        sys.exit(1)
    return user


@click.command("erase-user")
@with_appcontext
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_user(email: str, yes: bool) -> None:
    """Erase a user and every row about them; their open streams close; an audit entry stays."""
    user = _user(email)
    if not yes:
        click.confirm(f"Erase user {user.id} {user.email} and all their data?", abort=True)
    uid = user.id
    # With REDIS_URL the close message reaches every server process (as deactivate-user's).
    privacy.erase_user(user, "cli")
    click.echo(f"erased user {uid}")


@click.command("export-user")
@with_appcontext
@click.argument("email")
def export_user(email: str) -> None:
    """Print everything stored about a user as one JSON document."""
    user = _user(email)
    doc = privacy.export_user(user)
    privacy.record_export(user, "cli")
    click.echo(json.dumps(doc, indent=2, sort_keys=True))


COMMANDS = (erase_user, export_user)
