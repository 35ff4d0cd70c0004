"""The API contract, declared once: pydantic models validate requests and generate the document.

A request body is a :class:`Body` subclass; a response body a :class:`Reply` subclass; an
operation is one :func:`operation` call naming them. A route reads its body with
:func:`parse`, so what it accepts is what the model (and so ``/api/v1/openapi.json``) says.

Adding operations from another module (see also README, "The API contract")::

    # notifier/api/contract_things.py
    from notifier.api.contract import Body, Reply, operation
    from notifier.api.fields import NOT_BLANK, TypeName

    class NewThing(Body):
        name: Annotated[str, Field(max_length=100, pattern=NOT_BLANK)]
        kind: TypeName | None = None

    class Thing(Reply):
        id: int
        name: str

    operation("post", "/api/v1/things", "Create a thing", "things",
              body=NewThing, responses={"201": Thing}, errors="401 400 413 422")

    # notifier/api/things.py (the route)
    thing = parse(NewThing)          # 400 / 413 / 422 exactly as everywhere else

and import ``contract_things`` in ``notifier/api/openapi.py`` next to the others. A body the
client may leave out is ``operation(..., body=Model, body_required=False)`` with the route
reading ``validate(Model, json_body(allow_empty=True))``; query, path and header parameters
are ``openapi_common.param(...)`` dicts in ``params=``. Declaring one method and path twice
(two modules) is an error when the document is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic import ValidationError as PydanticError

from notifier.api.openapi_common import op
from notifier.api.request import json_body
from notifier.service.errors import ValidationError

B = TypeVar("B", bound="Body")
MESSAGES_BY_TYPE = {"missing": "is required", "extra_forbidden": "unknown field"}
# Every Body and Reply by class name: each becomes a component schema of the document.
MODELS: dict[str, type[BaseModel]] = {}


class _Registered(BaseModel):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ in ("Body", "Reply"):
            return
        if cls.__name__ in MODELS and MODELS[cls.__name__] is not cls:
            raise TypeError(f"two contract models named {cls.__name__}")
        MODELS[cls.__name__] = cls


class Body(_Registered):
    """A JSON request body: strict types (no "1" for 1), unknown fields refused.

    ``MESSAGES`` maps a field's dotted path (or "path:pydantic_error_type") to the message a
    refusal of it carries, where the wording of the error type (``_by_type``) is not enough;
    ``READONLY`` names fields a client may read elsewhere but not send (422 "read-only");
    :meth:`cross_errors` holds rules across fields (run even when fields fail, so one 422
    names every problem).
    """

    model_config = ConfigDict(strict=True, extra="forbid")
    MESSAGES: ClassVar[dict[str, str]] = {}
    READONLY: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def cross_errors(cls, raw: dict[str, Any]) -> dict[str, str]:
        """Return {field: message} for rules that span fields (none by default)."""
        return {}


class Reply(_Registered):
    """A JSON response body; generates its schema only (the routes build the dicts)."""


def _path(loc: tuple[int | str, ...]) -> str:
    """Name a field the way the rest of the API does: dotted keys, no list indices."""
    return ".".join(str(p) for p in loc if isinstance(p, str) and p != "[key]") or "body"


def _by_type(err: Any) -> str | None:
    """Return the API's wording for a pydantic error type (None: keep pydantic's message)."""
    ctx = err.get("ctx", {})
    return {
        "string_type": "must be a string",
        "int_type": "must be an integer",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "string_too_long": f"at most {ctx.get('max_length')} characters",
        "string_too_short": f"at least {ctx.get('min_length')} characters",
        "too_long": f"at most {ctx.get('max_length')} items",
        "too_short": f"at least {ctx.get('min_length')} items",
        "greater_than_equal": f"at least {ctx.get('ge')}",
        "less_than_equal": f"at most {ctx.get('le')}",
        "literal_error": f"must be {ctx.get('expected')}",
        "string_pattern_mismatch": f"must match {ctx.get('pattern')}",
    }.get(err["type"])


def _pattern(err: Any) -> str | None:
    return err.get("ctx", {}).get("pattern")


def errors_of(model: type[Body], exc: PydanticError) -> dict[str, str]:
    """Return {dotted field: message} for a pydantic refusal, the first error of each field.

    The message: "read-only", "is required" or "unknown field"; else the model's MESSAGES for
    "path:error_type", then for "path"; else the wording of the error type.
    """
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        path = _path(err["loc"])
        kind = err["type"]
        if path in out:
            continue
        if kind == "extra_forbidden" and path in model.READONLY:
            out[path] = "read-only"
        elif kind in MESSAGES_BY_TYPE:
            out[path] = MESSAGES_BY_TYPE[kind]
        elif "[key]" in err["loc"]:
            out[path] = "invalid name" + (f" (must match {p})" if (p := _pattern(err)) else "")
        else:
            out[path] = (
                model.MESSAGES.get(f"{path}:{kind}")
                or model.MESSAGES.get(path)
                or _by_type(err)
                or err["msg"]
            )
    return out


def validate(model: type[B], data: dict[str, Any], message: str = "invalid request") -> B:
    """Return ``data`` as ``model`` or raise one 422 naming every bad field."""
    errors = model.cross_errors(data)
    try:
        parsed = model.model_validate(data)
    except PydanticError as exc:
        errors = {**errors_of(model, exc), **errors}
    if errors:
        raise ValidationError(message, fields=errors)
    return parsed


def parse(model: type[B], message: str = "invalid request") -> B:
    """Read the request's JSON body as ``model``: 400 malformed, 422 naming each bad field.

    ``json_body`` answers first: wrong content type or bad JSON (400), nesting too deep (400),
    NUL or a lone surrogate in any string (422), so a model never sees those.
    """
    return validate(model, json_body(), message)


@dataclass(frozen=True)
class Operation:
    """One documented operation; ``responses`` maps a status to a Reply, a schema or a dict."""

    method: str
    path: str
    summary: str
    tag: str
    body: type[Body] | None = None
    responses: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        """Return the OpenAPI operation object."""
        responses = {status: _response(spec) for status, spec in self.responses.items()}
        return op(
            self.summary,
            self.tag,
            responses,
            body=self.body.__name__ if self.body else None,
            **self.extra,
        )


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    path: str,
    summary: str,
    tag: str,
    *,
    body: type[Body] | None = None,
    responses: dict[str, Any] | None = None,
    **extra: Any,
) -> Operation:
    """Declare an operation of the document (``extra``: errors, params, security, description).

    ``errors`` lists the shared error statuses it answers ("401 403 400 413 422"), as in
    ``openapi_common.op``.
    """
    item = Operation(method, path, summary, tag, body, dict(responses or {}), extra)
    OPERATIONS.append(item)
    return item


def component(name: str) -> WithJsonSchema:
    """Document a field as the component schema ``name`` without validating it by that model.

    ``actions: Annotated[Any, component("Action")]`` on PublishRequest: the Action model is
    the document's, but service/content.py checks the items, naming each refusal by its index
    (``actions.0.url``), which a model refusal cannot (it names fields without indices).
    """
    return WithJsonSchema({"allOf": [{"$ref": f"#/components/schemas/{name}"}]})


def _is_model(spec: Any) -> bool:
    return isinstance(spec, type) and issubclass(spec, BaseModel)


def _response(spec: Any) -> dict[str, Any]:
    """Return a response object: a model (``$ref``), or a (model, description) pair, or a dict."""
    description = "OK"
    if isinstance(spec, tuple):
        spec, description = spec
    if _is_model(spec):
        schema = {"$ref": f"#/components/schemas/{spec.__name__}"}
        return {"description": description, "content": {"application/json": {"schema": schema}}}
    return spec


class ErrorDetail(Reply):
    code: Annotated[str, Field(examples=["validation_error", "bad_cursor"])]
    message: str
    fields: Annotated[
        dict[str, str],
        Field(
            description="Per-field messages; dotted paths for nested fields "
            "(`types.security.in_app`)."
        ),
    ] = None  # type: ignore[assignment]


class Error(Reply):
    """Every error of the API (CONTRACT §5)."""

    error: ErrorDetail
