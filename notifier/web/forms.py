"""Flask-WTF forms (CSRF included) for the pages."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from notifier.channels import REGISTRY, USER_CHANNELS
from notifier.i18n import LANGUAGE_NAMES, LOCALES
from notifier.models import PRIORITIES
from notifier.service.emails import EmailNotValidError, normalized_address
from notifier.service.preferences import DIGEST_MODES, TYPE_RE

# Lazy strings: forms and labels are built once, translated when a page renders them.
_CHANNEL_NAMES = {
    "in_app": _l("In-app"),
    "email": _l("Email"),
    "push": _l("Push"),
    "sms": _l("SMS"),
    "chat": _l("Chat"),
}
CHANNEL_LABELS = {ch: _CHANNEL_NAMES.get(ch, REGISTRY[ch].label) for ch in USER_CHANNELS}
DIGEST_LABELS = {"off": _l("Each one"), "hourly": _l("Hourly digest"), "daily": _l("Daily digest")}
TIME_MESSAGE = _l("Use a time like 22:00.")
PRIORITY_NAMES = {
    "low": _l("Low"),
    "normal": _l("Normal"),
    "high": _l("High"),
    "urgent": _l("Urgent"),
}


class EmailSyntax:
    """WTForms validator with the account service's rule: any syntactically valid address.

    WTForms' own ``Email()`` refuses special-use domains (``corp.local``), so users the API
    created there could not sign in.
    """

    message = _l("Invalid email address.")

    def __call__(self, form: Any, field: Any) -> None:
        """Raise ValidationError when the field is not an email address."""
        try:
            normalized_address(field.data or "")
        except EmailNotValidError as exc:
            raise ValidationError(self.message) from exc


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), EmailSyntax(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me signed in"))


@lru_cache(maxsize=1)
def timezone_choices() -> list[SelectChoice]:
    """Return every IANA zone this machine knows, UTC first, for the time-zone select."""
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return [SelectChoice("UTC", "UTC"), *(SelectChoice(z, z.replace("_", " ")) for z in zones)]


class PreferencesForm(FlaskForm):
    """Global channel switches and quiet hours; :func:`preferences_form` adds the matrix."""

    ch_in_app = BooleanField(_CHANNEL_NAMES["in_app"])
    ch_email = BooleanField(_CHANNEL_NAMES["email"])
    ch_push = BooleanField(_CHANNEL_NAMES["push"])
    ch_sms = BooleanField(_CHANNEL_NAMES["sms"])
    ch_chat = BooleanField(_CHANNEL_NAMES["chat"])
    quiet_enabled = BooleanField(_l("Hold email, push and SMS during quiet hours"))
    quiet_start = TimeField(_l("From"), format=["%H:%M", "%H:%M:%S"], validators=[Optional()])
    quiet_end = TimeField(_l("Until"), format=["%H:%M", "%H:%M:%S"], validators=[Optional()])
    quiet_timezone = SelectField(_l("Time zone"), choices=[], validate_choice=True)
    # The account's phone (E.164, checked by the service); SMS goes nowhere without one.
    phone = StringField(_l("Phone for SMS"), validators=[Optional(), Length(max=20)])
    # The page language; each language is named in itself, so anyone can find their own.
    locale = SelectField(
        _l("Language"),
        choices=[SelectChoice(code, LANGUAGE_NAMES[code]) for code in LOCALES],
        default="en",
        validate_choice=True,
    )

    # Filled in by preferences_form(): [(type, [(channel, field name)], digest field name)].
    matrix: list[tuple[str, list[tuple[str, str]], str]] = []

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate the fields, then require both times while quiet hours are on."""
        ok = super().validate(extra_validators)
        if self.ch_sms.data and not (self.phone.data or "").strip():
            self.phone.errors = [*self.phone.errors, _l("Add a phone number to get SMS.")]
            ok = False
        if self.quiet_enabled.data:
            for field in (self.quiet_start, self.quiet_end):
                if field.data is None and not field.errors:
                    field.errors.append(TIME_MESSAGE)
                    ok = False
        return ok


def preferences_form(types: list[str], saved_zone: str = "UTC", **kwargs: Any) -> PreferencesForm:
    """Build the preferences form with one checkbox per type × channel and a digest per type."""
    attrs: dict[str, Any] = {}
    matrix = []
    for i, t in enumerate(types):
        cells = []
        for ch in USER_CHANNELS:
            name = f"m{i}_{ch}"
            attrs[name] = BooleanField(
                _l("%(type)s: %(channel)s", type=t, channel=CHANNEL_LABELS[ch])
            )
            cells.append((ch, name))
        attrs[f"d{i}"] = SelectField(
            _l("Email digest for %(type)s", type=t),
            choices=[SelectChoice(m, DIGEST_LABELS[m]) for m in DIGEST_MODES],
            default="off",  # a disabled choice (email not set up) is never posted
        )
        matrix.append((t, cells, f"d{i}"))
    attrs["matrix"] = matrix
    cls = type("PreferencesMatrixForm", (PreferencesForm,), attrs)
    form = cls(**kwargs)
    choices = timezone_choices()
    if saved_zone not in {c.value for c in choices}:
        # A zone saved through the API that this machine's list lacks stays selectable.
        choices = [*choices, SelectChoice(saved_zone, saved_zone)]
    form.quiet_timezone.choices = choices
    return form


def clean_types(raw: list[str]) -> list[str]:
    """Keep the valid, distinct type names a preferences form was rendered with."""
    return list(dict.fromkeys(t for t in raw if TYPE_RE.fullmatch(t)))[:200]


class SendForm(FlaskForm):
    """Compose a notification: recipients, content and priority."""

    audience = RadioField(
        _l("Send to"),
        default="user",
        choices=[
            SelectChoice("user", _l("One user")),
            SelectChoice("users", _l("Several users")),
            SelectChoice("tenant", _l("Everyone in my tenant")),
        ],
    )
    emails = TextAreaField(
        _l("Recipients"),
        validators=[Length(max=20000)],
        description=_l("Emails, separated by commas or new lines."),
    )
    type = StringField(
        _l("Type"),
        default="system",
        validators=[
            DataRequired(),
            Regexp(TYPE_RE.pattern, message=_l("Letters, digits and _.:- only.")),
            Length(max=64),
        ],
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Body"), validators=[Optional(), Length(max=10000)])
    priority = SelectField(
        _l("Priority"),
        default="normal",
        choices=[SelectChoice(p, PRIORITY_NAMES.get(p, p.capitalize())) for p in PRIORITIES],
    )
    url = StringField(
        _l("Link"),
        validators=[Optional(), Length(max=2048)],
        description=_l("https://… or a path on this site like /reports/42."),
    )

    def recipient_emails(self) -> list[str]:
        """Split the recipients field on commas, semicolons and whitespace."""
        raw = (self.emails.data or "").replace(",", " ").replace(";", " ")
        return list(dict.fromkeys(e.strip().lower() for e in raw.split() if e.strip()))


class RetryForm(FlaskForm):
    """CSRF-only form for the dead-letter retry buttons."""
