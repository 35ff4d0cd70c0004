"""Compile and render notification templates in a Jinja sandbox that names what is missing.

Templates are tenant data written by admins, so they run in
``jinja2.sandbox.ImmutableSandboxedEnvironment`` (no attribute tricks, no mutation of the
variables) with a strict ``Undefined``: a variable the template needs and the publish lacks
raises :class:`MissingVariable` carrying its dotted path (``data.order.id``), which the
callers turn into a 422 naming it. Only ``html`` fields are autoescaped; the other fields are
plain text that every channel escapes where it displays them. The environment itself is
:mod:`.template_sandbox`.

Nothing here reads the database: :mod:`.templates` loads the rows and the recipients, and
``notify_plan.plan()`` calls :meth:`Rendering.for_user` per recipient.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError

from notifier.service.errors import ValidationError
from notifier.service.template_sandbox import (
    TEXT_ENV,
    MissingVariable,
    env_for,
    scoped,
)

#: The top-level variables a template may use.
VARIABLES = ("data", "user", "tenant")
USER_FIELDS = ("id", "email", "locale", "timezone")
TENANT_FIELDS = ("name",)
#: The text fields each channel's template renders (CONTRACT §10).
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "in_app": ("title", "body"),
    "email": ("subject", "title", "body", "html"),
    "push": ("title", "body"),
    "sms": ("title", "body"),
    "chat": ("title", "body"),
}
TEMPLATE_CHANNELS = tuple(CHANNEL_FIELDS)
VARIANT_FIELDS = ("title", "body", "subject")
# Rendered text is cut to what the inbox row and the channels hold.
LIMITS = {"title": 200, "subject": 200, "body": 10_000, "html": 100_000}


def check_source(key: str, source: str, *, channel: str, errors: dict[str, str]) -> Template | None:
    """Compile ``source``; record "line N: why" under ``key`` in ``errors`` when it is bad.

    Besides syntax, it refuses variables no publish can ever have (anything but data, user,
    tenant; user and tenant fields other than the documented ones), and ``user`` in a chat
    template (a chat post goes once to the tenant's channel, not to one person).
    """
    env = env_for(key.rpartition(".")[2])
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        errors[key] = f"line {exc.lineno}: {exc.message}"
        return None
    problem = _unknown_variable(tree, channel)
    if problem:
        errors[key] = problem
        return None
    return env.from_string(tree)


def _unknown_variable(tree: nodes.Template, channel: str) -> str | None:
    allowed = ("data", "tenant") if channel == "chat" else VARIABLES
    for name in sorted(meta.find_undeclared_variables(tree) - set(TEXT_ENV.globals)):
        if name not in allowed:
            line = next(
                (n.lineno for n in tree.find_all(nodes.Name) if n.name == name), tree.lineno
            )
            if name == "user":
                return f"line {line}: user is not available in a chat template"
            return f"line {line}: unknown variable '{name}' (use data.{name})"
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in ("user", "tenant"):
            known = USER_FIELDS if node.node.name == "user" else TENANT_FIELDS
            if node.attr not in known:
                return (
                    f"line {node.lineno}: {node.node.name}.{node.attr} is not available "
                    f"(use one of {', '.join(known)})"
                )
    return None


def choose_variant(
    template_id: int, user_id: int, variants: Sequence[Mapping[str, Any]] | None
) -> Mapping[str, Any] | None:
    """Return the user's arm: a point from sha256(template id, user id) on the weights.

    Stable across processes and restarts (Python's hash() is salted per process), and a
    change of weights moves only the users whose point crosses a boundary.
    """
    arms = [v for v in variants or () if int(v.get("weight") or 0) > 0]
    total = sum(int(v["weight"]) for v in arms)
    if not total:
        return None
    digest = hashlib.sha256(f"{template_id}:{user_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for arm in arms:
        point -= int(arm["weight"])
        if point < 0:
            return arm
    return arms[-1]  # unreachable: the points add up to total


@dataclass
class Compiled:
    """One template row, compiled: its fields and its variants' overriding fields."""

    id: int
    channel: str
    locale: str
    fields: dict[str, Template]
    variants: list[dict[str, Any]] = field(default_factory=list)
    arms: dict[str, dict[str, Template]] = field(default_factory=dict)
    uses_user: bool = False


def compile_row(
    row_id: int, channel: str, locale: str, doc: Mapping[str, Any], *, prefix: str = ""
) -> Compiled:
    """Compile a template's fields and variants, or raise one 422 naming each bad field."""
    errors: dict[str, str] = {}
    out = Compiled(row_id, channel, locale, {}, list(doc.get("variants") or []))
    sources: list[str] = []
    for name in CHANNEL_FIELDS[channel]:
        source = doc.get(name)
        if source:
            sources.append(source)
            tpl = check_source(f"{prefix}{name}", source, channel=channel, errors=errors)
            if tpl is not None:
                out.fields[name] = tpl
    for i, arm in enumerate(out.variants):
        compiled: dict[str, Template] = {}
        for name in VARIANT_FIELDS:
            source = arm.get(name)
            if source and name in CHANNEL_FIELDS[channel]:
                sources.append(source)
                key = f"{prefix}variants.{i}.{name}"
                tpl = check_source(key, source, channel=channel, errors=errors)
                if tpl is not None:
                    compiled[name] = tpl
        out.arms[str(arm["name"])] = compiled
    if errors:
        first = next(iter(errors.items()))
        raise ValidationError(f"{first[0]}: {first[1]}", fields=errors)
    out.uses_user = any("user" in s for s in sources)  # a cheap over-estimate is fine here
    return out


def render_fields(
    tpl: Compiled, context: Mapping[str, Any], arm: Mapping[str, Any] | None
) -> dict[str, str]:
    """Render one template for one context; raise ValidationError naming a missing variable."""
    chosen = {**tpl.fields, **(tpl.arms.get(str(arm["name"]), {}) if arm else {})}
    out: dict[str, str] = {}
    for name, template in chosen.items():
        try:
            text = template.render(context)
        except MissingVariable as exc:
            path = str(exc)
            where = f"the {tpl.channel} template ({tpl.locale}, {name})"
            hint = "is missing from data" if path.startswith("data") else "is not available"
            raise ValidationError(
                f"{path} {hint}: {where} needs it",
                code="missing_variable",
                fields={path: f"{hint}; {where} needs it"},
            ) from None
        except (SecurityError, ArithmeticError, TypeError, ValueError) as exc:
            key = f"template.{tpl.channel}.{name}"
            raise ValidationError(
                f"{key}: {exc}", code="template_error", fields={key: str(exc)}
            ) from None
        text = text.strip() if name != "html" else text
        limit = LIMITS[name]
        out[name] = text if len(text) <= limit else text[: limit - 1] + "…"
    return out


@dataclass
class Rendering:
    """A type's compiled templates and the variables of one publish; plan() asks it per user.

    ``templates`` maps (channel, locale) to a template; ``users`` maps a user id to its
    template variables (empty when no template needs them and every template is "en").
    """

    templates: dict[tuple[str, str], Compiled]
    data: Any
    tenant: Any
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    # What a template that never reads ``user`` renders to, per arm: the same for everyone.
    _shared: dict[tuple[int, str | None], dict[str, str]] = field(default_factory=dict)

    def pick(self, channel: str, locale: str | None) -> Compiled | None:
        """Return the template for the user's locale, its language, or "en" (else None).

        Locales compare without case ("pt-br" finds "pt-BR"); ``templates`` keys are lower case.
        """
        wanted = (locale or "").lower()
        for candidate in (wanted, wanted.split("-")[0], "en"):
            if candidate and (tpl := self.templates.get((channel, candidate))):
                return tpl
        return None

    def for_user(
        self, user_id: int, channels: Iterable[str]
    ) -> tuple[dict[str, dict[str, str]], str | None]:
        """Return ({channel: rendered fields}, variant name) for one recipient.

        The variant stored on the notification is that of the first channel (in_app, email,
        push, sms) whose template runs an experiment.
        """
        info = self.users.get(user_id) or {"id": user_id}
        user = scoped(info, "user")
        context = {"data": self.data, "user": user, "tenant": self.tenant}
        out: dict[str, dict[str, str]] = {}
        variant: str | None = None
        for ch in TEMPLATE_CHANNELS:
            if ch not in channels or ch == "chat":
                continue
            tpl = self.pick(ch, info.get("locale"))
            if tpl is None:
                continue
            arm = choose_variant(tpl.id, user_id, tpl.variants)
            name = str(arm["name"]) if arm is not None else None
            if name is not None and variant is None:
                variant = name
            if tpl.uses_user:
                out[ch] = render_fields(tpl, context, arm)
                continue
            key = (tpl.id, name)
            if key not in self._shared:
                self._shared[key] = render_fields(tpl, context, arm)
            out[ch] = self._shared[key]
        return out, variant

    def for_tenant(self) -> dict[str, str] | None:
        """Return the chat post's fields (rendered once: data and tenant, no user)."""
        tpl = self.pick("chat", "en")
        if tpl is None:
            return None
        context = {"data": self.data, "user": scoped({}, "user"), "tenant": self.tenant}
        return render_fields(tpl, context, None)


def channel_payload(
    channel: str, fields: Mapping[str, Any], rendered: Mapping[str, str]
) -> dict[str, Any]:
    """Return a delivery payload: the publish's fields with the channel's rendered text.

    An email's subject is its title where the inbox and digests show one; its ``text`` part
    is derived from ``html`` by the email channel when the template has HTML.
    """
    out = dict(fields)
    for name in ("title", "body", "subject", "html"):
        if rendered.get(name):
            out[name] = rendered[name]
    if channel == "email" and rendered.get("subject"):
        out["title"] = rendered["subject"]
    return out
