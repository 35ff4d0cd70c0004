"""The OpenAPI document: valid 3.1, public, in step with the routes, and with the validators."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from notifier.api.openapi import document
from tests.factories import World

IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def registered(app: Flask) -> set[tuple[str, str]]:
    """Return (METHOD, /path/{param}) for every API rule in the url_map."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        out |= {(m, path) for m in rule.methods or () if m not in IGNORED_METHODS}
    return out


def documented(doc: dict) -> set[tuple[str, str]]:
    """Return (METHOD, path) for every operation in the document."""
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_document_is_public_and_valid(client: FlaskClient) -> None:
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    assert doc["components"]["securitySchemes"]["bearer"] == {
        **doc["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    for name in ("Notification", "Error", "Preferences", "User", "NotificationPage"):
        assert name in doc["components"]["schemas"]


def test_every_api_route_is_documented(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    missing = registered(app) - documented(doc)
    assert not missing, f"routes missing from the OpenAPI document: {sorted(missing)}"


def test_every_documented_operation_exists(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    api_ops = {op for op in documented(doc) if op[1].startswith("/api/v1/")}
    stale = api_ops - registered(app)
    assert not stale, f"documented but not served: {sorted(stale)}"
    others = {op for op in documented(doc) if not op[1].startswith("/api/v1/")}
    served = {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods or ()}
    assert others <= served


def test_publish_documents_scheduling_and_idempotency(client: FlaskClient) -> None:
    publish = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/notifications"]
    post = publish["post"]
    assert {"201", "202", "409", "422", "429"} <= set(post["responses"])
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
    cursor = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"][
        "NotificationPage"
    ]["properties"]["cursor"]
    assert "?after=" in cursor["description"]


def test_served_document_is_the_one_the_fuzz_reads(app: Flask, client: FlaskClient) -> None:
    served = client.get("/api/v1/openapi.json").get_json()
    mandatory = tuple(app.config["NOTIFIER_MANDATORY_TYPES"])
    assert served == json.loads(json.dumps(document(mandatory)))
    prefs = served["components"]["schemas"]["Preferences"]["properties"]["types"]
    assert prefs["properties"]["security"]["properties"]["in_app"] == {"const": True}


def body_schema(doc: dict[str, Any], method: str, path: str) -> Draft202012Validator:
    """Return a validator of one operation's JSON request body, refs resolved in ``doc``."""
    schema = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator(
        {**schema, "components": doc["components"]}, format_checker=FormatChecker()
    )


KEYS = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}
NOTE = {"type": "t", "title": "x"}
# (method, path, body, what the code answers): what the fuzz found where the document and the
# code disagreed (empty names and zones, id 0, blank titles, an empty phone, two recipients…).
AGREEMENT = [
    ("post", "/api/v1/tokens", {"name": ""}, 422),
    ("post", "/api/v1/tokens", {"name": " \x1c\x85 "}, 422),
    ("post", "/api/v1/tokens", {"name": " ci deploy "}, 201),
    ("post", "/api/v1/tokens", {"name": "x" * 100 + "  "}, 201),
    ("post", "/api/v1/tokens", {"name": "x" * 101}, 422),
    ("patch", "/api/v1/me", {"timezone": ""}, 422),
    ("patch", "/api/v1/me", {"timezone": "Europe/Paris", "phone": ""}, 200),
    ("patch", "/api/v1/me", {"phone": "+15551234567"}, 200),
    ("patch", "/api/v1/me", {"phone": "15551234567"}, 422),
    ("post", "/api/v1/users", {"email": "new@example.com", "phone": "", "password": None}, 201),
    ("post", "/api/v1/users", {"email": "new@example.com", "password": "short"}, 422),
    ("post", "/api/v1/notifications/bulk", {"action": "read", "ids": [0]}, 422),
    ("post", "/api/v1/notifications/bulk", {"action": "read", "ids": [1]}, 200),
    ("post", "/api/v1/notifications", {"user_id": 0, "type": "t", "title": "x"}, 422),
    ("post", "/api/v1/notifications", {"user_id": 2, "type": "t", "title": " \t"}, 422),
    (
        "post",
        "/api/v1/notifications",
        {"user_id": 2, "email": None, "type": "t", "title": "x"},
        201,
    ),
    (
        "post",
        "/api/v1/notifications",
        {"user_id": 2, "tenant": True, "type": "t", "title": "x"},
        422,
    ),
    ("post", "/api/v1/notifications", {"type": "t", "title": "x"}, 422),
    ("post", "/api/v1/notifications", {"user_id": 2, "type": "t", "title": "x", "url": ""}, 201),
    (
        "post",
        "/api/v1/notifications",
        {"user_id": 2, "type": "t", "title": "x", "url": "//e.x"},
        422,
    ),
    ("put", "/api/v1/preferences", {"quiet_hours": {"timezone": ""}}, 422),
    ("put", "/api/v1/preferences", {"types": {"security": {"in_app": False}}}, 422),
    ("put", "/api/v1/preferences", {"types": {"security": {"email": False}}}, 200),
    ("put", "/api/v1/preferences", {"digest": {"no spaces": "daily"}}, 422),
    ("post", "/api/v1/push/subscriptions", {"endpoint": "https://p.example/1", "keys": KEYS}, 201),
    (
        "post",
        "/api/v1/push/subscriptions",
        {"endpoint": " https://p.example/2 ", "keys": KEYS, "expirationTime": "soon"},
        201,
    ),
    ("post", "/api/v1/push/subscriptions", {"endpoint": "http://p.example/", "keys": KEYS}, 422),
    # 2048 characters once trimmed, 2058 as sent: the limit counts what was sent.
    (
        "post",
        "/api/v1/push/subscriptions",
        {"endpoint": " " * 10 + "https://p.example/" + "a" * 2030, "keys": KEYS},
        422,
    ),
    ("post", "/api/v1/webhooks", {"url": "https://93.184.215.14/h", "types": [""]}, 422),
    ("post", "/api/v1/webhooks", {"url": "https://93.184.215.14/h", "types": ["comment"]}, 201),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), AGREEMENT)
def test_document_and_code_agree_on_the_fuzz_findings(
    client: FlaskClient, world: World, method: str, path: str, body: Any, status: int
) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    valid = body_schema(doc, method, path).is_valid(body)
    resp = client.open(path, method=method.upper(), json=body, headers=world.admin_h)
    assert resp.status_code == status, resp.get_json()
    assert valid == (status < 300), f"the document calls {body!r} {'' if valid else 'in'}valid"
