"""Who a notification goes to: resolve the API's recipient forms and load what plan() needs.

One statement loads every recipient with its preferences and push-subscription count (and
whether the tenant has webhook endpoints), so the fan-out reads no row twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select

from notifier.channels import configured
from notifier.extensions import core, db
from notifier.models import ChatIntegration, Preference, PushSubscription, User, WebhookEndpoint
from notifier.models_flows import Template, Workflow
from notifier.service.errors import ValidationError
from notifier.service.preferences import effective, mandatory_types

CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Recipient:
    """One user as the fan-out sees it: effective preferences and where to reach them.

    ``prefs`` is read-only: recipients without stored preferences share one document.
    """

    id: int
    phone: str | None
    prefs: dict[str, Any]
    push_subscriptions: int


@dataclass(frozen=True, slots=True)
class Webhook:
    """One live endpoint of the tenant; ``types`` empty means every type."""

    id: int
    types: list[str]


@dataclass(slots=True)
class Audience:
    """The recipients of one notify() call, in the caller's order.

    ``has_webhooks`` says whether the tenant has live endpoints (None: not known, there was
    no recipient row to ask), so a tenant without them costs no webhook query.
    """

    tenant_id: int
    recipients: list[Recipient] = field(default_factory=list)
    has_webhooks: bool | None = None
    #: Whether the tenant has live chat integrations (None: not known), as has_webhooks.
    has_chat: bool | None = None
    #: Whether the tenant has any template (None: not known), so a publish of a tenant
    #: without templates costs no template query (CONTRACT §10).
    has_templates: bool | None = None
    #: Whether the tenant has any workflow (None: not known), so notify() looks one up only then.
    has_workflows: bool | None = None

    @property
    def ids(self) -> list[int]:
        """Return the recipients' user ids."""
        return [r.id for r in self.recipients]


def _recipient_query(tenant_id: Any) -> Select[Any]:
    push_count = (
        select(func.count())
        .where(PushSubscription.user_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    has_hooks = exists().where(
        WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.deleted_at.is_(None)
    )
    has_chat = exists().where(
        ChatIntegration.tenant_id == tenant_id, ChatIntegration.deleted_at.is_(None)
    )
    has_templates = exists().where(Template.tenant_id == tenant_id)
    has_flows = exists().where(Workflow.tenant_id == tenant_id)
    return select(
        User.id,
        User.phone,
        Preference.data,
        push_count,
        has_hooks,
        has_chat,
        has_templates,
        has_flows,
    ).outerjoin(Preference, Preference.user_id == User.id)


#: The one-recipient form (a targeted publish), built once: a statement object reused
#: keeps its memoized cache key, so SQLAlchemy neither rebuilds nor re-hashes it per POST.
_ONE = (
    _recipient_query(bindparam("tenant_id"))
    .where(
        User.tenant_id == bindparam("tenant_id"),
        User.active.is_(True),
        User.id == bindparam("user_id"),
    )
    .order_by(User.id)
)


def _load(
    tenant_id: int,
    where: Sequence[ColumnElement[bool]],
    chunks: list[list[int]] | None,
    one: int | None = None,
) -> tuple[dict[int, Recipient], tuple[bool, bool, bool, bool]]:
    """Run the recipient query (per chunk of ids); return rows by id and the tenant's flags.

    The flags: (has webhooks, has chat integrations, has templates, has workflows).
    ``one``: the active user of that id only, through the prebuilt statement.
    """
    mandatory = mandatory_types()
    if one is not None:
        runs: list[Any] = [core().execute(_ONE, {"tenant_id": tenant_id, "user_id": one})]
    else:
        base = _recipient_query(tenant_id).where(*where)
        statements = [base.where(User.id.in_(c)) for c in chunks] if chunks else [base]
        runs = [core().execute(stmt.order_by(User.id)) for stmt in statements]
    found: dict[int, Recipient] = {}
    hooks = chat = tpl = flows = False
    defaults: dict[str, Any] | None = None  # most users never saved preferences
    for result in runs:
        for uid, phone, data, pushes, has_hooks, has_chat, has_tpl, has_flows in result:
            if data:
                prefs = effective(data, mandatory)
            else:
                prefs = defaults = defaults or effective(None, mandatory)
            found[uid] = Recipient(uid, phone, prefs, int(pushes or 0))
            hooks, chat = hooks or bool(has_hooks), chat or bool(has_chat)
            tpl = tpl or bool(has_tpl)
            flows = flows or bool(has_flows)
    return found, (hooks, chat, tpl, flows)


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


def webhooks(group: Audience) -> list[Webhook]:
    """Return the tenant's live webhook endpoints (no query when it is known to have none)."""
    if group.has_webhooks is False:
        return []
    rows = db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.types).where(
            WebhookEndpoint.tenant_id == group.tenant_id, WebhookEndpoint.deleted_at.is_(None)
        )
    )
    return [Webhook(int(i), list(types or [])) for i, types in rows]


def _finish(
    tenant_id: int, ordered: list[Recipient], flags: tuple[bool, bool, bool, bool]
) -> Audience:
    if not ordered:
        return Audience(tenant_id, ordered)
    return Audience(
        tenant_id,
        ordered,
        has_webhooks=flags[0],
        has_chat=flags[1],
        has_templates=flags[2],
        has_workflows=flags[3],
    )


def load(tenant_id: int, user_ids: Sequence[int]) -> Audience:
    """Load already-resolved recipients (any state: the scheduler sends to whoever exists)."""
    ids = list(user_ids)
    found, flags = _load(tenant_id, [], _chunks(list(dict.fromkeys(ids))))
    return _finish(tenant_id, [found[i] for i in ids if i in found], flags)


def _active(tenant_id: int) -> list[ColumnElement[bool]]:
    return [User.tenant_id == tenant_id, User.active.is_(True)]


def audience(tenant_id: int, spec: dict[str, Any]) -> Audience:
    """Resolve {user_id | email | user_ids | tenant: true} to active users of the tenant.

    Raise ValidationError naming the field when a recipient is unknown, inactive or in
    another tenant.
    """
    if spec.get("tenant") is True:
        found, flags = _load(tenant_id, _active(tenant_id), None)
        return _finish(tenant_id, list(found.values()), flags)
    if spec.get("user_ids") is not None:
        wanted = list(dict.fromkeys(int(i) for i in spec["user_ids"]))
        found, flags = _load(tenant_id, _active(tenant_id), _chunks(wanted))
        unknown = [i for i in wanted if i not in found]
        if unknown:
            raise ValidationError(
                f"unknown recipients: {unknown[:10]}",
                code="unknown_recipient",
                fields={"user_ids": "unknown or not in your tenant"},
            )
        return _finish(tenant_id, [found[i] for i in wanted], flags)
    if spec.get("user_id") is not None:
        field_name = "user_id"
        # The prebuilt statement holds the tenant and active conditions (nothing to build).
        found, flags = _load(tenant_id, [], None, one=int(spec["user_id"]))
    elif spec.get("email") is not None:
        field_name, cond = "email", User.email == str(spec["email"]).strip().lower()
        found, flags = _load(tenant_id, [*_active(tenant_id), cond], None)
    else:
        raise ValidationError(
            "a recipient is required",
            fields={"user_id": "give user_id, email, user_ids or tenant: true"},
        )
    if not found:
        raise ValidationError(
            "unknown recipient", code="unknown_recipient", fields={field_name: "unknown recipient"}
        )
    return _finish(tenant_id, list(found.values()), flags)


def resolve_recipients(tenant_id: int, spec: dict[str, Any]) -> list[int]:
    """Return the user ids :func:`audience` resolves ``spec`` to."""
    return audience(tenant_id, spec).ids


def unreachable(ch: str, cfg: Mapping[str, Any], r: Recipient) -> str | None:
    """Say why ``ch`` cannot reach ``r`` (server not set up, no address), or None."""
    if not configured(ch, cfg):
        return f"{ch} channel is not configured"
    if ch == "sms" and not r.phone:
        return "recipient has no phone number"
    if ch == "push" and not r.push_subscriptions:
        return "recipient has no push subscription"
    return None
