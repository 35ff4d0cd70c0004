"""The page language: Flask-Babel with the user's ``locale``, else the browser's, else English.

Catalogs live in ``translations/<locale>/LC_MESSAGES/messages.po`` (compiled ``.mo`` beside
them, committed so a fresh clone and the wheel serve them without a build step); ``LOCALES``
lists the languages whose catalogs are complete. ``make messages`` re-extracts, updates and
compiles them (README "Languages").
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from babel.dates import format_datetime
from babel.support import NullTranslations, Translations
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, get_locale, gettext, refresh
from flask_login import current_user

#: Languages with a complete catalog; "en" is the source language.
LOCALES = ("en", "de")
#: Each language's name in itself, for the language menu.
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}

babel = Babel()


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark ``message`` for extraction; it is translated where it is used."""
    return message


#: The words static/js writes into the page (connection state, error toasts, counts). The
#: page hands them over translated in ``<html data-strings>``; the scripts keep the English
#: as the key and the fallback. ``%(n)s``-style names are filled in by the script.
UI_STRINGS = (
    N_("Connecting…"),
    N_("Live"),
    N_("Reconnecting…"),
    N_("Offline"),
    N_("Reconnecting in %(n)s s"),
    N_("Reconnect"),
    N_("Retry now"),
    N_("That notification no longer exists."),
    N_("Your session changed. Reload the page and try again."),
    N_("Something went wrong (%(status)s). Please try again."),
    N_("No connection to the server. Your change was not saved."),
    N_("%(n)s selected"),
    N_("just now"),
    N_("New notification"),
    N_("This browser cannot show desktop alerts."),
    N_("Alerts are blocked for this site in the browser's settings."),
    N_("On: shown while this tab is in the background."),
    N_("On, also with this tab closed (Web Push)."),
)


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


def ui_strings() -> dict[str, str]:
    """Return the scripts' words in the page's language, keyed by the English (none in English)."""
    if page_lang() == "en":
        return {}
    return {message: gettext(message) for message in UI_STRINGS}


def supported(locale: str | None) -> str:
    """Return ``locale`` when it has a catalog, else English (stored values may predate one)."""
    return locale if locale in LOCALES else "en"


#: The catalogs folder, set by init_app (the worker's app is built the same way).
_DIRECTORY: list[Path] = []


def translations(locale: str | None) -> NullTranslations:
    """Return ``locale``'s catalog without any Flask context (the page stream, email chrome).

    English and unknown locales get the source strings.
    """
    if supported(locale) == "en" or not _DIRECTORY:
        return NullTranslations()
    return _load(str(_DIRECTORY[0]), supported(locale))


@lru_cache(maxsize=16)
def _load(directory: str, locale: str) -> NullTranslations:
    """Read one compiled catalog, once per process (the .mo ships with the release)."""
    return Translations.load(directory, [locale])


def init_app(app: Flask, directory: Path) -> None:
    """Bind Flask-Babel (it installs ``_``/``gettext``/``ngettext`` into the Jinja env)."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(directory))
    babel.init_app(app, locale_selector=select_locale)
    _DIRECTORY[:] = [directory]
    # Flask-Babel keeps the chosen locale on the app context; a request inside a longer-lived
    # one (tests, a CLI command's context) must choose again, as a request of its own does.
    app.before_request(_refresh)
    app.jinja_env.globals["page_lang"] = page_lang
    app.jinja_env.globals["ui_strings"] = ui_strings


def _refresh() -> None:
    """Drop the locale Flask-Babel chose earlier in this app context, if it chose one.

    Flask-Babel keeps its choices in ``g._flask_babel``; without it there is nothing to
    drop, which is every request in its own app context (``refresh`` would look it up, and
    create it once ``g`` holds anything, on every request).
    """
    if "_flask_babel" in g:
        refresh()


def format_local(dt: datetime, pattern: str) -> str:
    """Format ``dt`` in its own time zone with a CLDR ``pattern``, in the page's language."""
    return format_datetime(dt, pattern, locale=get_locale() or "en")
