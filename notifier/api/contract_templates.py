"""Contract of notification templates (CONTRACT §10): request and response models, operations.

The models check the shape; the service then compiles each field in the Jinja sandbox, so a
syntax error or a variable no publish can have is a 422 naming the field and the line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from notifier.api.contract import Body, Reply, operation
from notifier.api.fields import Time, TypeName
from notifier.api.openapi_common import ADMIN, BODY, NO_CONTENT, id_param
from notifier.service.template_render import TEMPLATE_CHANNELS
from notifier.service.templates import (
    LOCALE_PATTERN,
    MAX_VARIANTS,
    MAX_WEIGHT,
    SOURCE_LIMITS,
    VARIANT_NAME_PATTERN,
)

Locale = Annotated[
    str,
    Field(
        max_length=10,
        pattern=LOCALE_PATTERN,
        description='the recipients\' locale it serves; "en" is the fallback',
    ),
]


def _source(name: str, what: str) -> Any:
    return Field(max_length=SOURCE_LIMITS[name], description=f"Jinja: {what}")


class TemplateVariant(Body):
    MESSAGES = {"name": "letters, digits and _.:- only, at most 40"}

    name: Annotated[str, Field(pattern=VARIANT_NAME_PATTERN)]
    weight: Annotated[int, Field(ge=0, le=MAX_WEIGHT)]
    title: Annotated[str | None, _source("title", "replaces the template's title")] = None
    body: Annotated[str | None, _source("body", "replaces the template's body")] = None
    subject: Annotated[str | None, _source("subject", "replaces the email subject")] = None


class TemplateRequest(Body):
    """One template; fields a channel does not use are kept but not rendered."""

    MESSAGES = {
        "type:string_pattern_mismatch": "letters, digits and _.:- only, at most 64",
        "locale:string_pattern_mismatch": 'a language tag such as "en" or "pt-BR"',
    }

    type: TypeName
    channel: Literal[TEMPLATE_CHANNELS]  # type: ignore[valid-type]
    locale: Locale = "en"
    title: Annotated[str | None, _source("title", "title (the email subject's fallback)")] = None
    body: Annotated[str | None, _source("body", "plain text (email: text part without html)")] = (
        None
    )
    subject: Annotated[str | None, _source("subject", "email subject")] = None
    html: Annotated[str | None, _source("html", "email HTML, autoescaped, in the layout")] = None
    variants: (
        Annotated[
            list[TemplateVariant],
            Field(
                max_length=MAX_VARIANTS,
                description="experiment arms; a user's arm is a stable hash of (template id, "
                "user id) and the weights; names must differ",
            ),
        ]
        | None
    ) = None


class Template(Reply):
    id: int
    type: str
    channel: str
    locale: str
    title: str
    body: str
    subject: str | None
    html: str | None
    variants: list[dict[str, Any]]
    created_at: Time
    updated_at: Time


class TemplateList(Reply):
    items: list[Template]


ONE = (id_param("template_id"),)
operation(
    "get",
    "/api/v1/templates",
    "The tenant's templates",
    "templates",
    responses={"200": TemplateList},
    errors=ADMIN,
)
operation(
    "post",
    "/api/v1/templates",
    "Add a template for a type, channel and locale",
    "templates",
    body=TemplateRequest,
    responses={"201": Template},
    errors=f"{ADMIN} 409 {BODY}",
    description="A syntax error is 422 naming the field and the line "
    '(`"body": "line 2: unexpected \'}\'"`); 409 `template_exists` for a taken key.',
)
operation(
    "get",
    "/api/v1/templates/{template_id}",
    "One template",
    "templates",
    responses={"200": Template},
    errors=f"{ADMIN} 404",
    params=ONE,
)
operation(
    "put",
    "/api/v1/templates/{template_id}",
    "Replace a template",
    "templates",
    body=TemplateRequest,
    responses={"200": Template},
    errors=f"{ADMIN} 404 409 {BODY}",
    params=ONE,
)
operation(
    "delete",
    "/api/v1/templates/{template_id}",
    "Delete a template (publishes of its type fall back to their own text)",
    "templates",
    responses=NO_CONTENT,
    errors=f"{ADMIN} 404",
    params=ONE,
)
