"""The contract of action buttons (CONTRACT §9): the Action shape and the click."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from notifier.api.contract import Body, Reply, operation
from notifier.api.contract_inbox import Notification
from notifier.api.fields import LINK_DESCRIPTION, LINK_PATTERN, NOT_BLANK, Tag
from notifier.api.openapi_common import param
from notifier.service.clean import INT64_MAX
from notifier.service.content import ACTION_STYLES


class Action(Body):
    """One button of a notification: a link, a server-side action, or both."""

    # The publish request documents its ``actions`` as this schema; service/content.py's
    # validate_actions checks them, naming each item by its index (``actions.0.url``).
    model_config = ConfigDict(
        json_schema_extra={
            "description": "A link (url), a server-side action (callback: true, a signed POST "
            "to the tenant's webhooks subscribed to type `action`), or both. Ids should be "
            "unique: a click names the first with its id.",
            "anyOf": [
                {"required": ["url"]},
                {"required": ["callback"], "properties": {"callback": {"const": True}}},
            ],
        }
    )

    id: Tag
    label: Annotated[
        str,
        Field(
            max_length=40, pattern=NOT_BLANK, description="1 to 40 characters, not only whitespace"
        ),
    ]
    url: Annotated[
        str,
        Field(min_length=1, max_length=2048, pattern=LINK_PATTERN, description=LINK_DESCRIPTION),
    ] = None  # type: ignore[assignment]
    style: Literal[ACTION_STYLES] = None  # type: ignore[valid-type]
    callback: bool = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _link_or_callback(self) -> Action:
        if self.url is None and self.callback is not True:
            raise PydanticCustomError("checked", "give a url, callback: true, or both")
        return self


class ActionClicked(Reply):
    notification: Notification
    action: Action


operation(
    "post",
    "/api/v1/notifications/{notification_id}/actions/{action_id}",
    "Click an action: records it, marks the item read, runs its callback",
    "notifications",
    responses={"200": ActionClicked},
    errors="401 404",
    params=(
        param("notification_id", "path", {"type": "integer", "minimum": 1, "maximum": INT64_MAX}),
        param("action_id", "path", {"type": "string"}),
    ),
    description="Owner only (others' notifications and unknown actions: 404).",
)
