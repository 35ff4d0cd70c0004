"""The page language: Flask-Babel with the user's ``locale``, else the browser's, else English.

Catalogs live in ``translations/<locale>/LC_MESSAGES/messages.po`` (compiled ``.mo`` beside
them, committed so a fresh clone and the wheel serve them without a build step); ``LOCALES``
lists the languages whose catalogs are complete. ``make messages`` re-extracts, updates and
compiles them (README "Translations").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from babel.dates import format_datetime
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_babel import Babel, force_locale, get_locale, refresh
from flask_login import current_user

#: Languages with a complete catalog; "en" is the source language.
LOCALES = ("en", "de")
#: Each language's name in itself, for the language menu.
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}

babel = Babel()


def select_locale() -> str:
    """Return the signed-in user's locale when supported, else the best Accept-Language match."""
    if not has_request_context():  # an app context without a request: a CLI or a worker
        return "en"
    locale = getattr(current_user, "locale", None) if current_user else None
    if locale in LOCALES:
        return str(locale)
    return request.accept_languages.best_match(LOCALES) or "en"


def page_lang() -> str:
    """Return the language of the page being rendered (``<html lang>``)."""
    locale = get_locale()
    return str(locale.language) if locale is not None else "en"


def supported(locale: str | None) -> str:
    """Return ``locale`` when it has a catalog, else English (stored values may predate one)."""
    return locale if locale in LOCALES else "en"


@contextmanager
def rendering_in(app: Flask, locale: str) -> Iterator[None]:
    """Render in ``locale`` outside a request (the page stream, emails): an app context + Babel."""
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        with force_locale(supported(locale)):
            yield
        return
    with app.app_context(), force_locale(supported(locale)):
        yield


#: The catalogs folder, set by init_app (the worker's app is built the same way).
_DIRECTORY: list[Path] = []


def translations(locale: str | None) -> NullTranslations:
    """Return ``locale``'s catalog without any Flask context (email chrome in the workers).

    Loaded once per locale by Babel's own cache; English and unknown locales get the
    source strings.
    """
    if supported(locale) == "en" or not _DIRECTORY:
        return NullTranslations()
    return Translations.load(str(_DIRECTORY[0]), [supported(locale)])


def init_app(app: Flask, directory: Path) -> None:
    """Bind Flask-Babel (it installs ``_``/``gettext``/``ngettext`` into the Jinja env)."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(directory))
    babel.init_app(app, locale_selector=select_locale)
    _DIRECTORY[:] = [directory]
    # Flask-Babel keeps the chosen locale on the app context; a request inside a longer-lived
    # one (tests, a CLI command's context) must choose again, as a request of its own does.
    app.before_request(refresh)
    app.jinja_env.globals["page_lang"] = page_lang


def format_local(dt: datetime, pattern: str) -> str:
    """Format ``dt`` in its own time zone with a CLDR ``pattern``, in the page's language."""
    return format_datetime(dt, pattern, locale=get_locale() or "en")
