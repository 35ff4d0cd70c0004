"""Contract of workflows (CONTRACT §10): a type's steps, throttle and send-time switch."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from notifier.api.contract import Body, Reply, operation
from notifier.api.fields import TYPE_PATTERN
from notifier.api.openapi_common import ADMIN, AUTH, BODY, NO_CONTENT, id_param, param
from notifier.service.workflows import (
    DURATION_PATTERN,
    DURATION_RULE,
    MAX_STEPS,
    MAX_THROTTLE,
    STEP_CHANNELS,
    UNLESS,
    step_errors,
)

Duration = Annotated[str, Field(max_length=40, pattern=DURATION_PATTERN, description=DURATION_RULE)]
StepChannel = Annotated[
    str,
    WithJsonSchema({"type": "string", "enum": list(STEP_CHANNELS)}),
    Field(pattern=f"^({'|'.join(STEP_CHANNELS)})$"),
]
CHANNEL_RULE = f"must be one of {', '.join(STEP_CHANNELS)}"


class WorkflowStep(Body):
    channel: StepChannel | None = None
    wait: Duration | None = None
    unless: Literal["read", "seen", "connected"] | None = None


# What a step is, as the document states it: exactly {channel} or {wait, unless?}, no nulls
# (cross_errors holds the model to the same rule).
STEP_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "required": ["channel"],
            "properties": {"channel": {"type": "string", "enum": list(STEP_CHANNELS)}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["wait"],
            "properties": {
                "wait": {
                    "type": "string",
                    "maxLength": 40,
                    "pattern": DURATION_PATTERN,
                    "description": DURATION_RULE,
                },
                "unless": {"type": "string", "enum": list(UNLESS)},
            },
            "additionalProperties": False,
        },
    ]
}
Step = Annotated[WorkflowStep, WithJsonSchema(STEP_SCHEMA)]


class Throttle(Body):
    limit: Annotated[int, Field(ge=1, le=MAX_THROTTLE)]
    per: Duration


class WorkflowBody(Body):
    MESSAGES = {
        "steps.wait": DURATION_RULE,
        "throttle.per": DURATION_RULE,
        "steps.channel": CHANNEL_RULE,
    }
    steps: Annotated[
        list[Step],
        Field(
            min_length=1,
            max_length=MAX_STEPS,
            description="in order: `{channel}` sends, `{wait, unless?}` pauses and may end the run",
        ),
    ]
    throttle: Throttle | None = None
    optimize_send_time: bool = False

    @classmethod
    def cross_errors(cls, raw: dict[str, Any]) -> dict[str, str]:
        """Each step is a channel or a wait, and only a wait has ``unless``."""
        steps = raw.get("steps")
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            return {}
        return step_errors(steps)


class Workflow(Reply):
    type: str
    steps: list[dict[str, Any]]
    throttle: dict[str, Any] | None
    optimize_send_time: bool
    created_at: str
    updated_at: str


class WorkflowList(Reply):
    items: list[Workflow]


class DeliveryStep(Reply):
    step: int
    channel: str | None
    status: Literal["pending", "sent", "skipped", "throttled", "failed", "dead"]
    reason: str | None = None
    at: str | None
    wait: str | None = None
    unless: str | None = None


TYPE = (
    param(
        "ntype",
        "path",
        {"type": "string", "pattern": TYPE_PATTERN},
        "the notification type",
    ),
)
STEPS = {
    "description": "The run's steps (or, without a workflow, the in-app row and deliveries)",
    "content": {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/DeliveryStep"}}
        }
    },
}

operation(
    "get",
    "/api/v1/workflows",
    "The tenant's workflows",
    "workflows",
    responses={"200": WorkflowList},
    errors=ADMIN,
)
operation(
    "get",
    "/api/v1/workflows/{ntype}",
    "The workflow of a type",
    "workflows",
    responses={"200": Workflow},
    errors=f"{ADMIN} 404",
    params=TYPE,
)
operation(
    "put",
    "/api/v1/workflows/{ntype}",
    "Create or replace the workflow of a type",
    "workflows",
    body=WorkflowBody,
    responses={"200": Workflow, "201": Workflow},
    errors=f"{ADMIN} {BODY}",
    params=TYPE,
    description="Runs already started keep their steps; a bad type in the path is 422 `type`.",
)
operation(
    "delete",
    "/api/v1/workflows/{ntype}",
    "Remove the workflow of a type (later publishes fan out at once)",
    "workflows",
    responses=NO_CONTENT,
    errors=f"{ADMIN} 404",
    params=TYPE,
)
operation(
    "get",
    "/api/v1/notifications/{notification_id}/deliveries",
    "What each step of a notification's run did",
    "workflows",
    responses={"200": STEPS},
    errors=f"{AUTH} 404",
    params=(id_param("notification_id"),),
)
