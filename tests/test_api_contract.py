"""The contract models: each body is validated by the model the document is generated from."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from notifier.api import contract, openapi
from notifier.api.contract import MODELS, OPERATIONS, validate
from notifier.api.contract_accounts import ProfilePatch
from notifier.api.contract_channels import PushSubscription
from notifier.api.contract_inbox import PublishRequest
from notifier.api.contract_inboxux import Action
from notifier.service.errors import ValidationError
from tests.factories import World

WITH_BODY = sorted(
    ((o.method, o.path) for o in OPERATIONS if o.body is not None), key=lambda mp: mp[1]
)
KEYS = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}


def refusal(model: Any, body: dict[str, Any]) -> dict[str, str]:
    """Return the fields of the 422 ``model`` answers to ``body``."""
    with pytest.raises(ValidationError) as info:
        validate(model, body)
    return info.value.fields


def test_every_body_operation_is_declared_with_its_model(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert len(WITH_BODY) == 19
    for method, path in WITH_BODY:
        body = doc["paths"][path][method]["requestBody"]["content"]["application/json"]
        name = body["schema"]["$ref"].rsplit("/", 1)[1]
        assert (
            name in MODELS and doc["components"]["schemas"][name]["additionalProperties"] is False
        )


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_every_body_route_reads_its_body_through_the_model(
    client: FlaskClient, world: World, method: str, path: str
) -> None:
    url = re.sub(r"\{\w+\}", "1", path)  # an id in the path: the body is refused first
    resp = client.open(url, method=method.upper(), json={"zz": 1}, headers=world.admin_h)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error" and error["fields"]["zz"] == "unknown field"


def test_refusals_name_fields_the_way_the_api_does() -> None:
    nested = refusal(PushSubscription, {"endpoint": "https://p.example/", "keys": {**KEYS, "x": 1}})
    assert nested == {"keys.x": "unknown field"}
    assert refusal(PushSubscription, {"keys": KEYS}) == {"endpoint": "is required"}
    assert refusal(ProfilePatch, {"email": "a@b.c", "phone": 5}) == {
        "email": "read-only",
        "phone": "must be E.164, like +15551234567",
    }
    # A list item is named by its list, as everywhere in the API (no indices).
    tags = refusal(PublishRequest, {"user_id": 1, "type": "t", "title": "x", "tags": ["a", "b c"]})
    assert set(tags) == {"tags"}
    # The wording follows the rule that failed, in the API's words, not pydantic's.
    long = refusal(PublishRequest, {"user_id": 1, "type": "t", "title": "x" * 201, "body": 5})
    assert long == {"title": "at most 200 characters", "body": "must be a string"}
    assert refusal(PublishRequest, {"user_id": 1, "type": "t", "title": " \x85"}) == {
        "title": "is required"
    }


def test_cross_field_rules_and_field_rules_come_in_one_answer() -> None:
    fields = refusal(PublishRequest, {"user_id": 1, "tenant": True, "type": "no spaces"})
    assert set(fields) == {"user_id", "tenant", "type", "title"}
    assert fields["title"] == "is required"


def test_strict_types_refuse_what_json_schema_refuses() -> None:
    # "1" and true are not integers to JSON Schema, so not to the models either.
    assert set(refusal(PublishRequest, {"user_id": "1", "type": "t", "title": "x"})) == {"user_id"}
    assert set(refusal(PublishRequest, {"user_id": True, "type": "t", "title": "x"})) == {"user_id"}


def test_an_operation_declared_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two contract modules claiming one method and path: the document would keep only one.
    first = next(o for o in OPERATIONS if o.path == "/api/v1/notifications/seen-all")
    monkeypatch.setattr(contract, "OPERATIONS", [*OPERATIONS, first])
    monkeypatch.setattr(openapi, "OPERATIONS", contract.OPERATIONS)
    with pytest.raises(ValueError, match="POST /api/v1/notifications/seen-all"):
        openapi.document()


def test_an_action_is_a_link_a_callback_or_both() -> None:
    assert refusal(Action, {"id": "go", "label": "Go"}) == {
        "body": "give a url, callback: true, or both"
    }
    assert refusal(Action, {"id": "go", "label": "Go", "callback": False}) == {
        "body": "give a url, callback: true, or both"
    }
    assert validate(Action, {"id": "go", "label": "Go", "url": "/x"}).url == "/x"
    assert validate(Action, {"id": "go", "label": "Go", "callback": True}).callback is True
    schema = openapi.document()["components"]["schemas"]["Action"]
    assert schema["additionalProperties"] is False and len(schema["anyOf"]) == 2


def test_optional_fields_that_refuse_null_are_not_documented_as_nullable() -> None:
    schemas = openapi.document()["components"]["schemas"]
    flags = schemas["ChannelFlags"]["properties"]["email"]
    assert flags == {"type": "boolean"}
    assert refusal(ProfilePatch, {"timezone": None}) == {"timezone": "unknown time zone"}
    digest = schemas["Preferences"]["properties"]["digest"]
    assert digest["propertyNames"] == {"pattern": "^[A-Za-z0-9_.:-]{1,64}$"}
