"""Send notifications by email over SMTP.

One delivery is one message: multipart/alternative with a plain-text and an HTML part.
Everything user-supplied is escaped in the HTML part; only absolute http(s) URLs become links
(a relative URL has no host to point at in a mail client, and other schemes are unsafe).
``job.extra`` carries the layout: ``tenant_name`` (the header line), ``brand_color``
("#rrggbb") and ``logo_url`` (https) of the tenant's branding, ``manage_url`` (a
"Manage notifications" link) and ``unsubscribe_url``, which becomes ``List-Unsubscribe`` with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058: a mail client POSTs it) and
an "Unsubscribe" link in both parts. ``locale`` picks the language of the mail's own words
(the notification's title and body stay as sent).

A templated notification (CONTRACT §10) brings its own ``subject`` and ``html``: the HTML is
the message inside this same layout (the template autoescaped every variable in it), and the
text part is derived from it (:func:`~notifier.channels.email_text.html_to_text`).

Failures that concern this one message or recipient (5xx to RCPT or DATA) are permanent.
Failures that would hit every message (refused or dropped connections, timeouts, TLS, 4xx,
authentication, a refused sender) are transient: an operator fixes the server or the settings,
and the queued messages go out on the next attempt instead of going dead.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from notifier.channels.base import (
    Channel,
    DeliveryJob,
    PermanentError,
    TransientError,
    io_timeout,
)
from notifier.channels.email_text import html_to_text
from notifier.i18n import translations

TIMEOUT = 10.0
TLS_MODES = ("none", "starttls", "ssl")

_HTML = Markup(
    '<!doctype html>\n<html><body style="font-family: sans-serif; line-height: 1.4; '
    'color: #1b1f24; max-width: 40rem; margin: 0 auto; padding: 1rem">\n'
    "{header}{content}\n{footer}</body></html>\n"
)
COLOR_RE = re.compile(r"\A#[0-9a-fA-F]{6}\Z")
_FOOTER_STYLE = "margin-top: 2rem; border-top: 1px solid #d0d7de; padding-top: .75rem; "
_FOOTER_STYLE += "font-size: .875rem; color: #57606a"


def _one_line(text: Any, limit: int = 200) -> str:
    """Collapse whitespace (a newline in a header would be an injection) and shorten."""
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _link(url: Any) -> str | None:
    """Return the URL when it is absolute http(s), the only kind safe to put in a mail."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _paragraphs(text: str) -> Markup:
    """Escape text and keep its line breaks."""
    return Markup("<br>\n").join(escape(line) for line in text.splitlines())


def _t(job: DeliveryJob, message: str, **names: Any) -> str:
    """Translate one of the mail's own sentences into the recipient's language."""
    return translations(job.extra.get("locale")).gettext(message) % names


def _nt(job: DeliveryJob, singular: str, plural: str, num: int) -> str:
    """Translate a counted sentence (``%(num)d``) into the recipient's language."""
    return translations(job.extra.get("locale")).ngettext(singular, plural, num) % {"num": num}


def subject_for(job: DeliveryJob) -> str:
    """Return the subject: the title, or the count for a digest."""
    if job.is_digest:
        return _nt(job, "%(num)d new notification", "%(num)d new notifications", len(job.items))
    item = job.items[0] if job.items else {}
    return _one_line(item.get("subject") or item.get("title")) or _t(job, "New notification")


def _footer_lines(job: DeliveryJob) -> list[str]:
    lines = []
    if tenant := _one_line(job.extra.get("tenant_name")):
        lines.append(_t(job, "You get this email from %(tenant)s through Notifier.", tenant=tenant))
    if manage := _link(job.extra.get("manage_url")):
        lines.append(_t(job, "Manage notifications: %(url)s", url=manage))
    if unsubscribe := _link(job.extra.get("unsubscribe_url")):
        lines.append(_t(job, "Unsubscribe from these emails: %(url)s", url=unsubscribe))
    return lines


def render_text(job: DeliveryJob) -> str:
    """Return the plain-text part: the message, then who sent it and the two links."""
    footer = _footer_lines(job)
    body = _render_text_body(job)
    return body + ("\n-- \n" + "\n".join(footer) + "\n" if footer else "")


def _render_text_body(job: DeliveryJob) -> str:
    if job.is_digest:
        count = len(job.items)
        lines = [
            _nt(
                job,
                "You have %(num)d new notification:",
                "You have %(num)d new notifications:",
                count,
            ),
            "",
        ]
        for item in job.items:
            url = _link(item.get("url"))
            title = _one_line(item.get("title"))
            lines.append(f"- {title} <{url}>" if url else f"- {title}")
        return "\n".join(lines) + "\n"
    item = job.items[0] if job.items else {}
    if isinstance(item.get("html"), str):
        return html_to_text(item["html"])
    parts = [str(item.get("title") or "")]
    if item.get("body"):
        parts.append(str(item["body"]))
    if url := _link(item.get("url")):
        parts.append(_t(job, "View: %(url)s", url=url))
    return "\n\n".join(parts) + "\n"


def render_html(job: DeliveryJob) -> str:
    """Return the HTML part; every interpolated value is escaped by Markup.format."""
    if job.is_digest:
        rows = []
        for item in job.items:
            title = _one_line(item.get("title"))
            url = _link(item.get("url"))
            cell = Markup('<a href="{}">{}</a>').format(url, title) if url else escape(title)
            rows.append(Markup("<li>{}</li>").format(cell))
        content = Markup("<h1>{}</h1>\n<ul>\n{}\n</ul>").format(
            subject_for(job), Markup("\n").join(rows)
        )
    elif isinstance((job.items[0] if job.items else {}).get("html"), str):
        # Only a template puts html in a payload (the API refuses the key); the sandbox
        # autoescaped every variable in it, and the markup itself is the tenant admin's.
        content = Markup(job.items[0]["html"])  # noqa: S704
    else:
        item = job.items[0] if job.items else {}
        content = Markup("<h1>{}</h1>").format(str(item.get("title") or ""))
        if item.get("body"):
            content += Markup("\n<p>{}</p>").format(_paragraphs(str(item["body"])))
        if url := _link(item.get("url")):
            view = _t(job, "View notification")
            content += Markup('\n<p><a href="{}">{}</a></p>').format(url, view)
    header = _header(job)
    tenant = _one_line(job.extra.get("tenant_name"))
    links = []
    if manage := _link(job.extra.get("manage_url")):
        label = _t(job, "Manage notifications")
        links.append(Markup('<a href="{}">{}</a>').format(manage, label))
    if unsubscribe := _link(job.extra.get("unsubscribe_url")):
        label = _t(job, "Unsubscribe from these emails")
        links.append(Markup('<a href="{}">{}</a>').format(unsubscribe, label))
    footer = Markup("")
    if tenant or links:
        sent_by = escape(
            _t(job, "You get this email from %(tenant)s through Notifier.", tenant=tenant or "us")
        )
        footer = Markup('<p style="{}">{}<br>\n{}</p>\n').format(
            _FOOTER_STYLE, sent_by, Markup(" · ").join(links)
        )
    return str(_HTML.format(header=header, content=content, footer=footer))


def _header(job: DeliveryJob) -> Markup:
    """Return the branded header: the tenant's logo and name over a bar of its colour."""
    tenant = _one_line(job.extra.get("tenant_name"))
    color = job.extra.get("brand_color")
    logo = job.extra.get("logo_url")
    logo = logo if isinstance(logo, str) and logo.startswith("https://") and _link(logo) else None
    if not tenant and not logo:
        return Markup("")
    bar = color if isinstance(color, str) and COLOR_RE.fullmatch(color) else "#d0d7de"
    img = Markup("")
    if logo:
        img = Markup(
            '<img src="{}" alt="{}" height="32" style="vertical-align: middle; '
            'margin-right: .5rem">'
        ).format(logo, tenant or "logo")
    return Markup(
        '<div style="border-top: 4px solid {}; padding: .75rem 0; margin-bottom: 1rem; '
        'color: #57606a; font-size: .875rem">{}<strong>{}</strong></div>\n'
    ).format(bar, img, tenant)


def build_message(job: DeliveryJob, sender: str) -> EmailMessage:
    """Build the multipart/alternative message for one delivery."""
    msg = EmailMessage()
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["From"] = sender
    msg["To"] = str(job.target)
    msg["Subject"] = subject_for(job)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=f"delivery-{job.delivery_id}", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: keeps vacation auto-replies away.
    if unsubscribe := _link(job.extra.get("unsubscribe_url")):
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(render_text(job))
    msg.add_alternative(render_html(job), subtype="html")
    return msg


def _close(smtp: smtplib.SMTP) -> None:
    """End the session; errors here must not turn a sent message into a retry."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class EmailChannel(Channel):
    """Send one email per delivery; ``job.target`` is the recipient address."""

    name = "email"
    requires = ("NOTIFIER_SMTP_HOST",)

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        """Read the NOTIFIER_SMTP_* keys from the config mapping."""
        self.host: str | None = cfg.get("NOTIFIER_SMTP_HOST")
        self.port = int(cfg.get("NOTIFIER_SMTP_PORT") or 587)
        self.user: str | None = cfg.get("NOTIFIER_SMTP_USER")
        self.password: str = cfg.get("NOTIFIER_SMTP_PASSWORD") or ""
        self.tls = str(cfg.get("NOTIFIER_SMTP_TLS") or "starttls").lower()
        self.sender = str(cfg.get("NOTIFIER_SMTP_FROM") or "notifier@localhost")
        self.timeout = io_timeout(cfg, TIMEOUT)
        if self.tls not in TLS_MODES:
            raise ValueError(f"NOTIFIER_SMTP_TLS must be one of {TLS_MODES}, not {self.tls!r}")

    def _connect(self) -> smtplib.SMTP:
        """Open an SMTP session with the configured TLS mode and credentials."""
        host = self.host or ""
        context = ssl.create_default_context()
        if self.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, self.port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(host, self.port, timeout=self.timeout)
        try:
            if self.tls == "starttls":
                smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password)
        except BaseException:
            _close(smtp)
            raise
        return smtp

    def send(self, job: DeliveryJob) -> None:
        """Deliver the message, mapping SMTP and network failures to retry or dead."""
        if not self.host:
            raise PermanentError("email is not configured (NOTIFIER_SMTP_HOST)")
        try:
            msg = build_message(job, self.sender)
        except (ValueError, TypeError) as exc:  # A malformed address or header value.
            raise PermanentError(f"cannot build the message: {exc}") from exc
        envelope_from = parseaddr(self.sender)[1] or self.sender
        try:
            smtp = self._connect()
            try:
                smtp.send_message(msg, from_addr=envelope_from, to_addrs=[str(job.target)])
            finally:
                _close(smtp)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{code} {resp!r}" for code, resp in exc.recipients.values())
            if codes and all(400 <= code < 500 for code in codes):  # Greylisting, full mailbox.
                raise TransientError(f"recipient deferred: {detail}") from exc
            raise PermanentError(f"recipient refused: {detail}") from exc
        except smtplib.SMTPResponseException as exc:
            # Only DATA judges this message; AUTH, MAIL FROM and HELO refusals hit every one.
            reply = f"{exc.smtp_code} {exc.smtp_error!r}"
            if isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500:
                raise PermanentError(f"message refused: {reply}") from exc
            raise TransientError(f"SMTP error {reply}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Refused connections, timeouts, TLS failures, dropped sessions, no STARTTLS.
            raise TransientError(f"SMTP unavailable: {type(exc).__name__}: {exc}") from exc
