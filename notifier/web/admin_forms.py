"""Flask-WTF forms (CSRF included) of the admin screens: users, tokens, endpoints, scheduled."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from notifier.service.preferences import TYPE_RE

TYPES_HINT = _l("Comma-separated types, e.g. deploy, billing. Empty: every type.")
TYPES_RE = r"\A\s*(?:[A-Za-z0-9_.:-]{1,64}\s*(?:,\s*|\Z))*\Z"


class ActionForm(FlaskForm):
    """CSRF-only form behind each row button (deactivate, revoke, delete, test, cancel…)."""


class NewUserForm(FlaskForm):
    """Create a user of the admin's tenant."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(min=8, max=200)],
        description=_l("At least 8 characters. Leave empty to generate one, shown once."),
    )
    role = SelectField(
        _l("Role"),
        default="member",
        choices=[SelectChoice("member", _l("Member")), SelectChoice("admin", _l("Admin"))],
    )


class ResetPasswordForm(FlaskForm):
    """Set a user's password; empty generates one."""

    password = PasswordField(_l("New password"), validators=[Optional(), Length(min=8, max=200)])


class NewTokenForm(FlaskForm):
    """Create an API token for a user of the tenant."""

    user_id = SelectField(_l("For"), coerce=int, choices=[], validate_choice=True)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])


def split_types(raw: str | None) -> list[str] | None:
    """Return the types of a comma-separated field (None: every type)."""
    types = [t.strip() for t in (raw or "").split(",") if t.strip()]
    return [t for t in types if TYPE_RE.fullmatch(t)] or None


class NewWebhookForm(FlaskForm):
    """Register a signed-JSON webhook endpoint (fields ``hook-…``: one page holds two forms)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Prefix the field names and ids, which the chat form on the same page shares."""
        kwargs.setdefault("prefix", "hook")
        super().__init__(*args, **kwargs)

    url = StringField(_l("URL"), validators=[DataRequired(), Length(max=2048)])
    types = StringField(
        _l("Types"),
        validators=[Optional(), Length(max=4000), Regexp(TYPES_RE, message=TYPES_HINT)],
        description=TYPES_HINT,
    )


class NewIntegrationForm(FlaskForm):
    """Register a Slack or Discord incoming webhook (fields ``chat-…``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Prefix the field names and ids, which the webhook form on the same page shares."""
        kwargs.setdefault("prefix", "chat")
        super().__init__(*args, **kwargs)

    kind = SelectField(
        _l("Service"),
        default="slack",
        choices=[SelectChoice("slack", "Slack"), SelectChoice("discord", "Discord")],
    )
    url = StringField(
        _l("Incoming webhook URL"),
        validators=[DataRequired(), Length(max=2048)],
        description=_l(
            "From Slack (Apps → Incoming Webhooks) or Discord (Channel → Integrations "
            "→ Webhooks). It is a secret: only its end is shown afterwards."
        ),
    )
    types = StringField(
        _l("Types"),
        validators=[Optional(), Length(max=4000), Regexp(TYPES_RE, message=TYPES_HINT)],
        description=TYPES_HINT,
    )
