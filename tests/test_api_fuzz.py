"""Schemathesis over every operation of /api/v1/openapi.json, in-process over WSGI.

Every operation is fuzzed from the document twice, with a member's and with an admin's bearer
token; each (operation, role) item gets a fresh app and a small world. A case fails when the
server errs, answers a status the operation does not document, answers a body its schema does
not allow, rejects a request the document calls valid, or accepts one it calls invalid.

Bounded for the suite: NOTIFIER_FUZZ_EXAMPLES (default 15) cases per operation in the fuzzing
phase, on top of the document's examples and schemathesis's boundary (coverage) cases (skipped
for the four operations taking a time zone unless NOTIFIER_FUZZ_EXAMPLES >= 100: it sends each
of ~600 names); the seed is fixed (NOTIFIER_FUZZ_SEED) so a failure replays. A deep run::

    NOTIFIER_FUZZ_EXAMPLES=500 NOTIFIER_FUZZ_SEED=$RANDOM .venv/bin/pytest -q tests/test_api_fuzz.py

Decisions, because the examples of one item share its app's state:
* ``DELETE /tokens/{token_id}`` runs as a spare user with a token minted for that one case, so
  it may revoke anything of its own (204) without revoking the token the other cases use.
* The publish rate limit is raised: a 429 is a correct answer but would hide every later case.
* Streams are read up to their first event (the ``connected`` preamble), then closed.
* Three answers depend on stored state or the clock, not on the request's shape, so no
  document can promise them: a publish to a user that does not exist (422
  ``unknown_recipient``, CONTRACT §5), a webhook whose host does not resolve or resolves to a
  private address (422 naming ``url``) and a snooze ``until`` outside (now, now + 30 days]
  (422 naming ``until``, CONTRACT §9).
* A template whose text is not valid Jinja (422 naming the field with "line N: …") or whose
  variants share a name: Jinja's grammar and "names differ" are rules no schema can state;
  nor can it state "since before until" across two analytics query parameters.
  Only those, exactly, are not counted as "valid request rejected" (see ``state_answer``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from notifier.api.openapi import document
from notifier.extensions import db
from notifier.service import accounts
from tests import factories
from tests.conftest import make_app

EXAMPLES = int(os.environ.get("NOTIFIER_FUZZ_EXAMPLES", "15"))
DEEP = EXAMPLES >= 100
SEED = int(os.environ.get("NOTIFIER_FUZZ_SEED", "20261201"))
DELETE_TOKEN = "DELETE /api/v1/tokens/{token_id}"
# Rejections: schemathesis's list plus 413, the documented answer to a body over the limit.
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


# What a schemathesis.toml would hold; kept here so the knobs above reach it.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "max-stream-events": 1,
        "request-timeout": 5,
        "generation": {
            "max-examples": EXAMPLES,
            # Each call sends the caller's bearer token; generated credentials would replace it.
            "with-security-parameters": False,
            # NUL is refused in every string (CONTRACT §8, tests/test_hostile_input.py); the
            # document says so once in its description instead of a pattern on each field.
            "allow-x00": False,
            "database": "none",
        },
        "phases": {"stateful": {"enabled": False}},
        # The coverage phase sends every enum value: ~600 time zones on each operation that
        # takes one. Only a deep run pays for that; the fuzzing phase still draws them.
        "operations": []
        if DEEP
        else [
            {
                "include-name-regex": "^(PUT|PATCH) /api/v1/preferences$|"
                "^PATCH /api/v1/me$|^POST /api/v1/users$",
                "phases": {"coverage": {"enabled": False}},
            }
        ],
        "checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}},
    }
)


def state_answer(case: Any, response: Any) -> bool:
    """Return True for the rejections that depend on stored state or the clock (docstring)."""
    if response.status_code != 422:
        return False
    error = (response.json() or {}).get("error", {})
    label = case.operation.label
    if label == "POST /api/v1/notifications":
        return error.get("code") == "unknown_recipient"
    if label == "POST /api/v1/notifications/{notification_id}/snooze":
        # "until" must lie in (now, now + 30 days]: a window the document cannot state.
        return set(error.get("fields", {})) == {"until"}
    if label in ("POST /api/v1/webhooks", "POST /api/v1/integrations"):
        reason = error.get("fields", {}).get("url", "")
        unreachable = reason == "cannot resolve the host" or "non-public address" in reason
        return set(error.get("fields", {})) == {"url"} and unreachable
    if label in ("POST /api/v1/templates", "PUT /api/v1/templates/{template_id}"):
        reasons = list(error.get("fields", {}).values())
        return bool(reasons) and all(
            r.startswith("line ") or r == "each variant needs its own name" for r in reasons
        )
    if label == "GET /api/v1/analytics":
        return error.get("fields") == {"since": "must not be after until"}
    return False


def positive_data_acceptance_of_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Run positive_data_acceptance except on a state answer (or a WebSocket route's 426)."""
    if state_answer(case, response):
        return None
    if case.operation.label == "GET /api/v1/notifications/ws" and response.status_code == 426:
        return None  # an HTTP client cannot hand-shake: tests/test_ws.py drives the socket
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance_of_shape,
]


class Fuzzed:
    """One role's app, world and spare user (who runs DELETE /tokens)."""

    def __init__(self, app: Flask, role: str) -> None:
        self.app = app
        self.world = factories.make_world()
        caller = self.world.admin if role == "admin" else self.world.alice
        self.token = self.world.admin_token if role == "admin" else self.world.alice_token
        self.spare = factories.make_user(f"spare-{role}@example.com", role=role)
        # A few notifications, so that small ids find something to read, mark and delete.
        for title in ("one", "two", "three"):
            factories.send(caller, title, tags=["ci"], url="/x")

    def headers_for(self, case: Any) -> dict[str, str]:
        """Return the Authorization header of this case's caller."""
        if case.operation.label == DELETE_TOKEN:
            return factories.bearer(accounts.create_token(self.spare, "fuzz"))
        return factories.bearer(self.token)


@pytest.fixture(params=["member", "admin"])
def fuzzed(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Fuzzed]:
    """A fresh app on SQLite with a small world, for one role."""
    app = make_app(
        f"sqlite:///{tmp_path / 'fuzz.sqlite'}", NOTIFIER_RATE_LIMIT_PUBLISH="100000/minute"
    )
    with app.app_context():
        yield Fuzzed(app, request.param)
        db.session.remove()
        db.engine.dispose()


# The document the app serves (tests/test_api_openapi.py checks that it is this one), loaded
# at import so that pytest collects one item per operation; each call goes to the item's app
# over WSGI. (schemathesis.pytest.from_fixture would load it per app, but it fails on pytest 9.)
SCHEMA = schemathesis.openapi.from_dict(document(), config=CONFIG)


@SCHEMA.parametrize()
# Sharing the role's app across examples is the point (the module docstring says how); how
# fast examples are drawn depends on the machine's load (2 shared cores), not on the code.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_api_conforms_to_its_document(case: Any, fuzzed: Fuzzed) -> None:
    case.call_and_validate(app=fuzzed.app, headers=fuzzed.headers_for(case), checks=CHECKS)
