"""An item's own controls: its action buttons and "Why am I seeing this?" with its switches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from notifier.channels import USER_CHANNELS
from notifier.i18n import format_local
from notifier.models import Notification
from notifier.service import NotFound, ValidationError, actions, inbox, states
from notifier.service import preferences as prefs_svc
from notifier.service.content import safe_url
from notifier.service.why import workflow_path
from notifier.service.workflows import parse_duration
from notifier.web import bp, fragments, htmx

CHANNEL_NAMES = {
    "in_app": _l("In-app"),
    "email": _l("Email"),
    "push": _l("Push"),
    "sms": _l("SMS"),
    "chat": _l("Team chat"),
}
SCOPES = ("channel", "type")


@bp.post("/notifications/<int:nid>/actions/<action_id>")
@login_required
def click_action(nid: int, action_id: str) -> Any:
    """Record a click on an action button; follow its link, else re-render the item."""
    try:
        n, action = actions.click(current_user, nid, action_id)
    except NotFound:
        abort(404)
    url = action.get("url")
    link = url if url and safe_url(url) else None
    if not htmx.is_htmx():
        if link:
            return redirect(link)
        flash(gettext("%(action)s: done.", action=action["label"]), "success")
        return redirect(url_for("web.index", _anchor=f"n-{nid}"))
    resp = current_app.make_response(
        fragments.render_item(n) + fragments.badge_oob(inbox.stats(current_user.id))
    )
    if link:
        resp.headers["HX-Redirect"] = link
    return resp


def _sentence(key: str, default: bool, **names: Any) -> str:
    """Return one of the "why" sentences that end in who chose it (the default or the user)."""
    if default:
        text = {
            "channel_on": gettext("%(channel)s notifications were on (the default)."),
            "channel_off": gettext("%(channel)s notifications were off (the default)."),
            "type_on": gettext("%(channel)s for %(type)s was on (the default)."),
            "type_off": gettext("%(channel)s for %(type)s was off (the default)."),
            "all_off": gettext("Off for all notifications (the default)."),
            "one_off": gettext("Off for %(type)s (the default)."),
        }[key]
    else:
        text = {
            "channel_on": gettext("%(channel)s notifications were on (your setting)."),
            "channel_off": gettext("%(channel)s notifications were off (your setting)."),
            "type_on": gettext("%(channel)s for %(type)s was on (your setting)."),
            "type_off": gettext("%(channel)s for %(type)s was off (your setting)."),
            "all_off": gettext("Off for all notifications (your setting)."),
            "one_off": gettext("Off for %(type)s (your setting)."),
        }[key]
    return text % names


def _held(rule: str, step: dict[str, Any]) -> str:
    """Return the sentence for a channel held by quiet hours, sent urgently or digested."""
    if rule == "quiet_hours":
        return gettext("Held for your quiet hours, until %(until)s.", until=step.get("until"))
    if rule == "urgent":
        return gettext("Sent at once: urgent notifications skip quiet hours.")
    if step.get("mode") == "hourly":
        return gettext("Goes out in your hourly digest.")
    if step.get("mode") == "daily":
        return gettext("Goes out in your daily digest.")
    return gettext("Goes out in your %(mode)s digest.", mode=step.get("mode"))


def _duration(iso_text: Any) -> str:
    """Return a workflow wait for people: "10 min", "1 h 30 min", "2 d"."""
    try:
        left = int(parse_duration(iso_text).total_seconds())
    except (ValueError, TypeError):
        return str(iso_text)
    parts = []
    for size, unit in ((86400, gettext("d")), (3600, gettext("h")), (60, gettext("min"))):
        if left >= size:
            parts.append(f"{left // size} {unit}")
            left %= size
    if left or not parts:
        parts.append(f"{left} {gettext('s')}")
    return " ".join(parts)


def _local_time(iso_text: str) -> str:
    """Return an ISO UTC time as the user reads it ("Wed 02 Dec, 18:00"); as given if not one."""
    try:
        utc = datetime.fromisoformat(iso_text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return iso_text
    return format_local(states.to_local(utc, current_user), "EEE dd MMM, HH:mm")


def workflow_lines(n: Notification) -> list[str]:
    """Return one sentence per step of the workflow run that sent ``n``, with how it stands."""
    status_words = {
        "sent": gettext("done"),
        "pending": gettext("not yet"),
        "skipped": gettext("skipped"),
        "failed": gettext("failed"),
        "dead": gettext("failed"),
    }
    unless_words = {
        "read": gettext("ends the run if you read it in time"),
        "seen": gettext("ends the run if you see it in time"),
        "connected": gettext("ends the run if you are online"),
    }
    lines = []
    for step in workflow_path(n):
        status = status_words.get(str(step.get("status")), str(step.get("status")))
        reason = str(step.get("reason") or "")
        if reason.startswith("until "):  # a wait under way: its end, in the user's zone
            status = gettext("waiting until %(time)s", time=_local_time(reason[6:]))
        elif reason:
            status = f"{status} ({reason})"
        num = int(step["step"]) + 1
        if "wait" in step:
            what = gettext("wait %(time)s", time=_duration(step["wait"]))
            if step.get("unless") in unless_words:
                what = f"{what}, {unless_words[str(step['unless'])]}"
        else:
            ch = str(step.get("channel", ""))
            what = str(CHANNEL_NAMES.get(ch, ch))
        text = gettext("Step %(num)d, %(what)s: %(status)s.", num=num, what=what, status=status)
        lines.append(text)
    return lines


def why_steps(n: Notification, prefs: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Turn the stored decision into sentences, each rule with its switch as it is now.

    ``inbox``: why it is in the inbox (the question asked); ``channels``: one line per other
    channel, what happened there and why. Whole sentences, so each language words them.
    """
    inbox_steps: list[dict[str, Any]] = []
    lines: dict[str, dict[str, Any]] = {}
    sent = gettext("Sent.")
    for step in n.decision or ():
        rule, ch = step.get("rule"), str(step.get("channel", ""))
        name = str(CHANNEL_NAMES.get(ch, ch))
        default = step.get("source") == "default"
        state = "on" if step.get("allowed") else "off"
        channel_switch = {
            "scope": "channel",
            "on": bool(prefs["channels"].get(ch)),
            "label": gettext("%(channel)s notifications", channel=name),
        }
        type_switch = {
            "scope": "type",
            "on": bool(prefs["types"].get(n.type, {}).get(ch, True)),
            "label": gettext("%(channel)s for %(type)s", channel=name, type=n.type),
        }
        if ch == "in_app":
            if rule == "mandatory":
                text = gettext(
                    "%(type)s is mandatory on this server: it always reaches the inbox.",
                    type=n.type,
                )
                inbox_steps.append({"rule": rule, "channel": ch, "text": text, "switch": None})
            elif rule in ("channel", "type_channel"):
                key = f"{'channel' if rule == 'channel' else 'type'}_{state}"
                inbox_steps.append(
                    {
                        "rule": rule,
                        "channel": ch,
                        "text": _sentence(key, default, channel=name, type=n.type),
                        "switch": channel_switch if rule == "channel" else type_switch,
                    }
                )
            continue
        # Chat posts once per tenant integration (Slack, Discord), which the plan does not
        # name: "allowed", not "sent", is what the stored path knows.
        first = gettext("Allowed: posted to your team's Slack or Discord, if one is connected.")
        line = lines.setdefault(
            ch,
            {
                "channel": ch,
                "name": name,
                "text": first if ch == "chat" else sent,
                "switch": type_switch,
                "link": None,
            },
        )
        if rule == "channel" and not step.get("allowed"):
            line.update(text=_sentence("all_off", default), switch=channel_switch)
        elif rule == "type_channel" and not step.get("allowed"):
            line["text"] = _sentence("one_off", default, type=n.type)
        elif rule == "unavailable":
            line["text"] = gettext("Not sent: %(reason)s.", reason=step.get("reason"))
        elif rule in ("quiet_hours", "urgent", "digest"):
            text = _held(str(rule), step)
            # Quiet hours and a digest can both apply: say both.
            line["text"] = text if line["text"] == sent else f"{line['text']} {text}"
            if rule != "urgent":
                anchor = "digest" if rule == "digest" else "quiet-hours"
                line["link"] = url_for("web.preferences", _anchor=anchor)
    return {"inbox": inbox_steps, "channels": list(lines.values())}


def _why(nid: int, *, saved: bool = False, status: int = 200) -> Any:
    try:
        n = inbox.get(current_user, nid)
    except NotFound:
        abort(404)
    ctx = {
        "n": n,
        "steps": why_steps(n, prefs_svc.get_preferences(current_user.id)),
        "workflow": workflow_lines(n),
    }
    if htmx.is_htmx():
        html = render_template("why/_panel.html", saved=saved, **ctx)
        return htmx.vary(current_app.make_response((html, status)))
    if saved:
        flash(gettext("Saved. New notifications follow this setting."), "success")
    page = render_template("why/page.html", page_title=gettext("Why am I seeing this?"), **ctx)
    return htmx.vary(current_app.make_response((page, status)))


@bp.get("/notifications/<int:nid>/why")
@login_required
def why(nid: int) -> Any:
    """Show the rule path that let this notification through, with the matching switches."""
    return _why(nid)


@bp.post("/notifications/<int:nid>/why")
@login_required
def why_switch(nid: int) -> Any:
    """Flip one switch of the panel (a channel, or this type on a channel)."""
    try:
        n = inbox.get(current_user, nid)
    except NotFound:
        abort(404)
    scope, ch = request.form.get("scope"), request.form.get("channel")
    if scope not in SCOPES or ch not in USER_CHANNELS:
        abort(400)
    on = request.form.getlist("value")[-1:] == ["1"]
    doc = {"channels": {ch: on}} if scope == "channel" else {"types": {n.type: {ch: on}}}
    try:
        prefs_svc.set_preferences(current_user, doc, merge=True)
    except ValidationError:
        return _why(nid, status=422)
    return _why(nid, saved=True)
