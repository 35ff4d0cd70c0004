"""Page languages: a German user reads German pages, the choice works, the catalog is complete.

English is the source language (every other page test reads it); German is the second
complete catalog (translations/de). The catalog tests extract the strings from the current
sources, so a new untranslated string fails here with the command that fixes it.
"""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from notifier.bus.base import Message
from notifier.channels.base import DeliveryJob
from notifier.channels.email import render_html, render_text, subject_for
from notifier.extensions import db
from notifier.i18n import LOCALES
from notifier.stream.render import encoded
from notifier.web.renderer import html_renderer
from tests.conftest import AuthActions
from tests.factories import World, send

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
HX = {"HX-Request": "true"}
FIX = (
    "run `make messages`, then translate the new entries in "
    "translations/{lang}/LC_MESSAGES/messages.po"
)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def strings_of(string: str | tuple[str, ...]) -> tuple[str, ...]:
    """Return a catalog entry's translations (plural entries have one per form)."""
    return string if isinstance(string, tuple) else (string,)


def speaks(user_locale: str, *users: object) -> None:
    for u in users:
        u.locale = user_locale  # type: ignore[attr-defined]
    db.session.commit()


def test_german_user_reads_the_inbox_in_german(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    speaks("de", world.alice)
    send(world.alice, "Deploy finished")
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="de"' in page
    assert "<h1>Benachrichtigungen</h1>" in page
    # The scripts' words (connection state, error toasts) come along translated.
    assert '"Reconnecting\\u2026": "Verbindung wird wiederhergestellt\\u2026"' in page
    for text in ("Alle als gelesen markieren", "Posteingang", "Einstellungen", "Abmelden"):
        assert text in page
    # The item's own controls too; the notification's words stay as they were sent.
    assert "Als gelesen markieren" in page and "Zurückstellen" in page
    assert "Deploy finished" in page
    # Dates as German write them (the script then makes them relative, also in German).
    assert re.search(r"data-relative>\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} UTC</time>", page)
    assert "Mark all read" not in page and "Sign out" not in page


def test_german_user_reads_the_preferences_in_german(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    speaks("de", world.alice)
    auth.login()
    page = client.get("/preferences").get_data(as_text=True)
    assert "<h1>Einstellungen</h1>" in page
    for text in ("Kanäle", "Ruhezeiten", "Einstellungen speichern", "Zeitzone", "Sprache"):
        assert text in page
    assert '<option selected value="de">Deutsch</option>' in page
    assert "Quiet hours" not in page


def test_german_admin_reads_the_admin_screens_in_german(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    speaks("de", world.admin)
    auth.login("admin@example.com")
    expected = {
        "/admin": ("Live-Verbindungen", "Benachrichtigung senden", "Unzustellbare Nachrichten"),
        "/admin/users": ("Person hinzufügen", "Passwort zurücksetzen", "Rolle"),
        "/admin/tokens": ("Token erstellen", "Zuletzt benutzt"),
        "/admin/integrations": ("Webhook hinzufügen", "Slack und Discord"),
        "/admin/scheduled": ("Geplante Sendungen", "Nichts geplant."),
        "/admin/privacy": ("Aufbewahrung von Benachrichtigungen",),
    }
    for path, texts in expected.items():
        resp = client.get(path)
        assert resp.status_code == 200, path
        page = resp.get_data(as_text=True)
        assert '<html lang="de"' in page, path
        for text in texts:
            assert text in page, (path, text)


def test_the_preferences_form_switches_the_language(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    auth.login()
    page = client.get("/preferences").get_data(as_text=True)
    assert '<html lang="en">' in page and "Save preferences" in page
    data = {"quiet_timezone": "UTC", "locale": "de", "ch_in_app": "y"}
    resp = client.post("/preferences", data=data, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert '<html lang="de"' in page
    assert "Einstellungen gespeichert." in page  # the confirmation in the new language
    assert client.get("/api/v1/me").get_json()["locale"] == "de"  # stored on the account
    # In place (htmx): the whole page reloads, since its nav and <html lang> change too.
    data["locale"] = "en"
    resp = client.post("/preferences", data=data, headers=HX)
    assert resp.headers.get("HX-Refresh") == "true"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_an_unknown_language_in_the_form_is_refused(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    auth.login()
    resp = client.post("/preferences", data={"quiet_timezone": "UTC", "locale": "xx"})
    assert resp.status_code == 422
    db.session.refresh(world.alice)
    assert world.alice.locale == "en"


def test_the_api_sets_and_shows_the_locale(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    assert client.get("/api/v1/me", headers=world.alice_h).get_json()["locale"] == "en"
    resp = client.patch("/api/v1/me", json={"locale": "de"}, headers=world.alice_h)
    assert resp.status_code == 200 and resp.get_json()["locale"] == "de"
    assert client.get("/api/v1/me", headers=world.alice_h).get_json()["locale"] == "de"
    refused = client.patch(
        "/api/v1/me", json={"locale": "fr", "timezone": "Europe/Paris"}, headers=world.alice_h
    )
    assert refused.status_code == 422
    assert "locale" in refused.get_json()["error"]["fields"]
    me = client.get("/api/v1/me", headers=world.alice_h).get_json()
    assert (me["locale"], me["timezone"]) == ("de", "UTC")  # nothing half stored
    auth.login()
    assert "<h1>Benachrichtigungen</h1>" in client.get("/").get_data(as_text=True)


def test_the_browser_language_picks_the_login_page_language(client: FlaskClient) -> None:
    german = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    page = german.get_data(as_text=True)
    assert '<html lang="de"' in page
    assert '<h1 id="login-title">Anmelden</h1>' in page and "Angemeldet bleiben" in page
    french = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<h1 id="login-title">Sign in</h1>' in french.get_data(as_text=True)
    assert "Passwort" in page
    # WTForms' own messages follow the page language too (Flask-WTF asks Flask-Babel).
    refused = client.post(
        "/login", data={"email": "", "password": ""}, headers={"Accept-Language": "de"}
    )
    assert "Dieses Feld wird benötigt." in refused.get_data(as_text=True)
    wrong = client.post(
        "/login",
        data={"email": "x@example.com", "password": "nope"},
        headers={"Accept-Language": "de"},
    )
    assert "E-Mail-Adresse oder Passwort falsch." in wrong.get_data(as_text=True)


def test_the_browser_language_loses_to_the_users_choice(
    client: FlaskClient, auth: AuthActions, world: World
) -> None:
    auth.login()
    page = client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Mark all read" in page


def test_the_page_stream_renders_each_language_once(app: Flask, world: World) -> None:
    payload = {
        "id": 5,
        "type": "comment",
        "title": "Build green",
        "priority": "high",
        "created_at": "2026-01-01T10:00:00Z",
        "is_read": False,
    }
    msg = Message(world.alice.id, world.acme.id, 3, "notification", payload)
    german = encoded(msg, html_renderer("de")).decode()
    english = encoded(msg, html_renderer("en")).decode()
    assert "Als gelesen markieren" in german and "Hoch" in german and "Build green" in german
    assert "Mark read" in english and "Als gelesen markieren" not in english
    assert encoded(msg, html_renderer("de")) is encoded(msg, html_renderer("de"))  # cached
    assert html_renderer("xx") is html_renderer("en")


def test_email_chrome_follows_the_recipients_language() -> None:
    items = [{"title": "Invoice ready", "url": "https://example.com/i/1"}]
    extra = {
        "tenant_name": "Acme",
        "manage_url": "https://n.example.com/preferences",
        "unsubscribe_url": "https://n.example.com/unsubscribe/t",
        "locale": "de",
    }
    job = DeliveryJob(1, "email", 1, 1, "a@example.com", items, extra=extra)
    text, html = render_text(job), render_html(job)
    assert "Benachrichtigungen verwalten: https://n.example.com/preferences" in text
    assert "Sie erhalten diese E-Mail von Acme über Notifier." in text
    assert ">Diese E-Mails abbestellen</a>" in html and ">Benachrichtigung ansehen</a>" in html
    assert "Invoice ready" in text  # the notification's own words are not translated
    digest = DeliveryJob(2, "email", 1, 1, "a@example.com", items * 3, extra=extra)
    assert subject_for(digest) == "3 neue Benachrichtigungen"
    english = DeliveryJob(3, "email", 1, 1, "a@example.com", items * 2, extra={"locale": "en"})
    assert subject_for(english) == "2 new notifications"


# --- the catalogs -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str | tuple[str, ...]]:
    """Extract every translatable string of the current sources, as `make messages` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    makefile = (ROOT / "Makefile").read_text()
    keywords = re.search(r"^BABEL_KEYWORDS := (.+)$", makefile, re.M)
    assert keywords, "Makefile: BABEL_KEYWORDS is what `make messages` extracts with"
    cmd = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg"]
    cmd += [*keywords.group(1).split(), "-o", str(pot), "."]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


@pytest.mark.parametrize("lang", [lang for lang in LOCALES if lang != "en"])
def test_every_page_string_is_translated(lang: str, extracted: set[str | tuple[str, ...]]) -> None:
    po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    entries = {m.id: m for m in catalog if m.id}
    missing = sorted(str(i) for i in extracted - entries.keys())
    assert not missing, f"{len(missing)} strings not in {lang}: {missing[:10]}; " + FIX.format(
        lang=lang
    )
    empty = sorted(str(i) for i in extracted if not all(strings_of(entries[i].string)))
    assert not empty, f"untranslated in {lang}: {empty[:10]}; " + FIX.format(lang=lang)
    fuzzy = sorted(str(i) for i in extracted if entries[i].fuzzy)
    assert not fuzzy, f"fuzzy (unchecked) in {lang}: {fuzzy[:10]}; " + FIX.format(lang=lang)
    for i in extracted:
        ids = i if isinstance(i, tuple) else (i,)
        strings = strings_of(entries[i].string)
        wanted = set(PLACEHOLDER.findall(ids[-1])) - {"num"}
        for s in strings:
            got = set(PLACEHOLDER.findall(s)) - {"num"}
            assert got == wanted, f"{lang}: {ids[0]!r} → {s!r} names {got}, not {wanted}"


@pytest.mark.parametrize("lang", [lang for lang in LOCALES if lang != "en"])
def test_the_compiled_catalog_matches_its_source(lang: str) -> None:
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as f:
        catalog = read_po(f)
    mo_path = folder / "messages.mo"
    assert mo_path.is_file(), f"no {mo_path}: run `make messages`"
    with mo_path.open("rb") as f:
        mo = gettext.GNUTranslations(f)
    stale = []
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple):
            for n, s in ((1, m.string[0]), (2, m.string[1])):
                if mo.ngettext(m.id[0], m.id[1], n) != s:
                    stale.append(m.id[0])
        elif mo.gettext(m.id) != m.string:
            stale.append(m.id)
    assert not stale, f"{mo_path} is older than its .po ({stale[:5]}): run `make messages`"
