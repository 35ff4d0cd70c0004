"""The page language: Flask-Babel with the user's ``locale``, else the browser's, else English.

Catalogs live in ``translations/<locale>/LC_MESSAGES/messages.po`` (compiled ``.mo`` beside
them); ``LOCALES`` lists the languages whose catalogs are complete.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel
from flask_login import current_user

#: Languages with a complete catalog; "en" is the source language.
LOCALES = ("en", "de")

babel = Babel()


def select_locale() -> str:
    """Return the signed-in user's locale when supported, else the best Accept-Language match."""
    locale = getattr(current_user, "locale", None) if current_user else None
    if locale in LOCALES:
        return str(locale)
    return request.accept_languages.best_match(LOCALES) or "en"


def init_app(app: Flask, directory: Path) -> None:
    """Bind Flask-Babel (it installs ``_``/``gettext``/``ngettext`` into the Jinja env)."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(directory))
    babel.init_app(app, locale_selector=select_locale)
