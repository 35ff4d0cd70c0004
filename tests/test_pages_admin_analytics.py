"""The admin analytics page shows the numbers of a test run: SVG charts, their tables, experiments.

The run is tests/test_analytics.py's (publishes over the API, a real SMTP server refusing one
email, reads, a seen mark and an action click); variants set on the rows directly.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from flask import Flask

from tests.conftest import AuthActions
from tests.fixtures_receivers import SmtpServer
from tests.test_analytics import build_run, mail_app  # noqa: F401 - the fixture

URL = "/admin/analytics"


class Tables(HTMLParser):
    """Collect every table's caption and rows (cell texts), and the SVG titles."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.svg_titles: list[str] = []
        self._caption: str | None = None
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._text: list[str] | None = None
        self._in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self._in_svg += 1
        elif tag == "title" and self._in_svg:
            self._text = []
        elif tag == "table":
            self._rows, self._caption = [], ""
        elif tag == "caption":
            self._text = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_svg -= 1
        elif tag == "title" and self._text is not None and self._in_svg:
            self.svg_titles.append("".join(self._text).strip())
            self._text = None
        elif tag == "caption" and self._text is not None:
            self._caption = "".join(self._text).strip()
            self._text = None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._caption or ""] = self._rows
            self._rows = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parsed(client: Any, **args: str) -> Tables:
    resp = client.get(URL, query_string=args)
    assert resp.status_code == 200, resp.status_code
    t = Tables()
    t.feed(resp.get_data(as_text=True))
    return t


def row(t: Tables, caption: str, key: str) -> list[str]:
    [found] = [r for r in t.tables[caption] if r and r[0].startswith(key)]
    return found[1:]


def test_the_page_shows_the_runs_numbers_in_charts_and_tables(
    mail_app: Flask,  # noqa: F811
    smtp_server: SmtpServer,
) -> None:
    run = build_run(mail_app, smtp_server)
    client = mail_app.test_client()
    AuthActions(client).login("admin@example.com")
    t = parsed(client)
    assert "Delivery, read and click rate per day" in t.svg_titles
    assert "Messages sent per channel per day" in t.svg_titles
    # Today: 10 messages, 9 delivered, 5 of them read, 2 clicked.
    rates = "Delivery, read and click rate per day"
    assert row(t, rates, run.today) == ["90.0 %", "55.6 %", "22.2 %"]
    assert t.tables[rates][0] == ["Day (UTC)", "delivery rate", "read rate", "click rate"]
    assert len(t.tables[rates]) == 1 + 14  # the header and the last 14 days
    usage = "Messages sent per channel per day"
    assert t.tables[usage][0] == ["Day (UTC)", "in_app", "email"]
    assert row(t, usage, run.today) == ["6", "4"]
    assert row(t, "By type", "deploy") == ["8", "7", "1", "6", "4", "2", "57.1 %", "28.6 %"]
    assert row(t, "By channel", "email") == ["4", "3", "1", "3", "2", "1", "66.7 %", "33.3 %"]
    # Experiments: per notification; A the reference (a tie on count, first by name).
    exp = "Type deploy"
    assert row(t, exp, "A") == ["2", "2", "2", "1", "100.0 %", "34.2 % – 100.0 %", "–", "50.0 %"]
    assert row(t, exp, "B") == ["2", "1", "0", "0", "0.0 %", "0.0 % – 65.8 %", "0.046", "0.0 %"]
    assert "Type comment" not in t.tables  # no variants: no experiment


def test_filters_type_and_days_and_bad_input_is_said(
    mail_app: Flask,  # noqa: F811
    smtp_server: SmtpServer,
) -> None:
    run = build_run(mail_app, smtp_server)
    client = mail_app.test_client()
    AuthActions(client).login("admin@example.com")
    t = parsed(client, type="comment")
    assert [r[0] for r in t.tables["By type"][1:]] == ["comment"]
    assert row(t, "Messages sent per channel per day", run.today) == ["2"]
    t = parsed(client, since="2020-01-01", until="2020-01-03")
    assert len(t.tables["Delivery, read and click rate per day"]) == 1 + 3
    assert t.tables["By type"][1] == ["Nothing in these days."]
    resp = client.get(URL, query_string={"since": "soon", "type": "bad type!"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Use a date like 2026-01-31." in html and "Letters, digits and _.:- only." in html
    assert 'aria-invalid="true"' in html


def test_members_get_404_and_visitors_the_login(
    mail_app: Flask,  # noqa: F811
    smtp_server: SmtpServer,
) -> None:
    build_run(mail_app, smtp_server)
    client = mail_app.test_client()
    assert client.get(URL).status_code == 302  # to the login page
    AuthActions(client).login("bob@example.com")
    assert client.get(URL).status_code == 404


def test_another_tenants_admin_sees_only_its_own(
    mail_app: Flask,  # noqa: F811
    smtp_server: SmtpServer,
) -> None:
    build_run(mail_app, smtp_server)
    client = mail_app.test_client()
    AuthActions(client).login("carol@globex.com")
    t = parsed(client)
    assert [r[0] for r in t.tables["By type"][1:]] == ["deploy"]
    assert row(t, "By type", "deploy") == ["1", "1", "0", "0", "0", "0", "0.0 %", "0.0 %"]
    assert "Type deploy" not in t.tables


def test_the_dashboard_links_to_it(
    mail_app: Flask,  # noqa: F811
) -> None:
    from tests.factories import make_world

    make_world()
    client = mail_app.test_client()
    AuthActions(client).login("admin@example.com")
    assert f'href="{URL}"' in client.get("/admin").get_data(as_text=True)
