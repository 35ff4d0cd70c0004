"""The OpenAPI document: valid 3.1, public, and in step with the registered routes both ways."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

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
