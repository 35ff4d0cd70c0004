"""Flask-WTF forms (CSRF included) of the admin templates screen: a template and the branding.

Only lengths are checked here; the service compiles the template and names each bad field,
and the screen puts those messages next to the fields.
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from notifier.service.template_render import TEMPLATE_CHANNELS

CHANNEL_LABELS = {
    "in_app": _l("In-app"),
    "email": _l("Email"),
    "push": _l("Push"),
    "sms": _l("SMS"),
    "chat": _l("Chat"),
}
SAMPLE = '{\n  "order": {"id": 42, "total": "19.90"}\n}'


class TemplateForm(FlaskForm):
    """One template; ``variants`` is JSON, ``sample`` the preview's data (never stored)."""

    type = StringField(_l("Type"), validators=[Length(max=64)])
    channel = SelectField(
        _l("Channel"), choices=[SelectChoice(c, CHANNEL_LABELS[c]) for c in TEMPLATE_CHANNELS]
    )
    locale = StringField(
        _l("Locale"),
        default="en",
        validators=[Length(max=10)],
        description=_l('Recipients whose locale is this get it; "en" is the fallback.'),
    )
    title = TextAreaField(_l("Title"), validators=[Optional(), Length(max=2000)])
    body = TextAreaField(_l("Body"), validators=[Optional(), Length(max=20000)])
    subject = StringField(_l("Email subject"), validators=[Optional(), Length(max=2000)])
    html = TextAreaField(
        _l("Email HTML"),
        validators=[Optional(), Length(max=100000)],
        description=_l("Variables are escaped; the text part is derived from it."),
    )
    variants = TextAreaField(
        _l("Variants (JSON)"),
        validators=[Optional(), Length(max=50000)],
        description=_l('[{"name": "a", "weight": 1, "title": "…"}, …] — empty: no experiment.'),
    )
    sample = TextAreaField(
        _l("Sample data (JSON)"),
        default=SAMPLE,
        validators=[Optional(), Length(max=20000)],
        description=_l("The preview's data object; not stored."),
    )

    def doc(self) -> dict[str, Any]:
        """Return the template the form describes, as the service takes it.

        Bad variants JSON is recorded on the field and the rest still goes to the service,
        so one answer names every problem.
        """
        doc: dict[str, Any] = {
            "type": (self.type.data or "").strip(),
            "channel": self.channel.data,
            "locale": (self.locale.data or "").strip() or "en",
            "title": self.title.data or "",
            "body": self.body.data or "",
            "subject": self.subject.data or None,
            "html": self.html.data or None,
        }
        raw = (self.variants.data or "").strip()
        if raw:
            try:
                doc["variants"] = json.loads(raw)
            except json.JSONDecodeError as exc:
                self.variants.errors = [
                    *self.variants.errors,
                    f"line {exc.lineno}: {exc.msg}",
                ]
        return doc

    def fill(self, row: Any) -> None:
        """Set the fields from a stored template."""
        for name in ("type", "channel", "locale", "title", "body", "subject", "html"):
            getattr(self, name).data = getattr(row, name) or ""
        self.variants.data = json.dumps(row.variants, indent=2) if row.variants else ""


class BrandingForm(FlaskForm):
    """The tenant's email branding (fields ``brand-…``: the page holds two forms)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Prefix the field names and ids."""
        kwargs.setdefault("prefix", "brand")
        super().__init__(*args, **kwargs)

    brand_color = StringField(
        _l("Brand colour"),
        validators=[Length(max=7)],
        description=_l('As "#rrggbb"; empty: the default grey.'),
    )
    logo_url = StringField(
        _l("Logo URL"),
        validators=[Length(max=500)],
        description=_l("An https:// image shown at the top of every email."),
    )
