"""Idempotency-Key for POSTs: replay the first answer, refuse the key with another body.

A view decorated with :func:`idempotent` returns ``(body, status)``, calls :func:`claim` right
before its service write and passes :func:`answer_in_commit` to the service as its
``before_commit`` hook, so the answer is stored in the same transaction as the write (a crash
after that commit leaves a replayable answer, never a key stuck "in progress"). Without the
header nothing changes. With it:

- same key, same body (hash of the canonical JSON, method and path), within 24 h: the first
  status and body again, with ``Idempotent-Replayed: true``;
- same key, another body: 409 ``idempotency_conflict``;
- same key while the first request is still running: 409 ``idempotency_in_progress`` with
  ``Retry-After: 1`` (a running request's claim is uncommitted, so a concurrent one waits on
  the unique key instead; this answers a pending row some writer committed, for at most
  ``store.PENDING_TTL``).

Only successful (2xx) answers are kept: a refused request changed nothing, so retrying it with
the same key runs it again. Keys are scoped per calling user.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Generic, TypeVar

from flask import Response, g, jsonify, request

from notifier.api.errors import error_response
from notifier.api.request import json_body
from notifier.service import idempotency as store
from notifier.service.errors import ValidationError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


@dataclass
class _Pending:
    key: str
    request_hash: str
    recorded: bool = False


class _Answer(Exception):
    """Carries a finished response out of the view (replay or conflict)."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent answer")
        self.response = response


def request_hash(body: dict[str, Any]) -> str:
    """Hash method, path and the canonical JSON of the body (key order and spacing ignored)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def _header_key() -> str | None:
    """Return the Idempotency-Key header, None when absent; 422 when empty or too long."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip():
        raise ValidationError("empty Idempotency-Key", fields={HEADER: "must not be empty"})
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            "Idempotency-Key too long", fields={HEADER: f"at most {MAX_KEY_LENGTH} characters"}
        )
    return key


def _answer_for(stored: store.Stored, digest: str) -> Response:
    """Return the replay, or the 409 for another body or a request still running."""
    if stored.request_hash != digest:
        return error_response(
            409,
            "this Idempotency-Key was used with another request body",
            code="idempotency_conflict",
            fields={HEADER: "already used with another body"},
        )
    if stored.status == store.PENDING:
        return error_response(
            409,
            "a request with this Idempotency-Key is still being processed",
            code="idempotency_in_progress",
            headers={"Retry-After": "1"},
        )
    resp = jsonify(stored.response)
    resp.status_code = stored.status
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def claim() -> None:
    """Claim the request's key before the service write; answer at once if another has it."""
    pending: _Pending | None = g.get("idempotency")
    if pending is None:
        return
    winner = store.claim(g.user.id, pending.key, pending.request_hash)
    if winner is not None:
        g.idempotency = None
        raise _Answer(_answer_for(winner, pending.request_hash))


class answer_in_commit(Generic[R]):  # noqa: N801 - used like a function
    """A service ``before_commit`` hook: build the answer from the result and store it.

    Call it with ``build(result) -> (body, status)``; the view returns :attr:`answer`.
    """

    def __init__(self, build: Callable[[R], tuple[dict[str, Any], int]]) -> None:
        self.build = build
        self.answer: tuple[dict[str, Any], int] | None = None

    def __call__(self, result: R) -> None:
        """Build the answer and, for a claimed key and a 2xx, record it uncommitted."""
        self.answer = body, status = self.build(result)
        pending: _Pending | None = g.get("idempotency")
        if pending is not None and 200 <= status < 300:
            store.record(g.user.id, pending.key, status, body)
            pending.recorded = True


def idempotent(fn: F) -> F:
    """Honour Idempotency-Key on a view that returns ``(body, status)``; sits inside api_auth."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = _header_key()
        g.idempotency = None
        if key is not None:
            digest = request_hash(json_body())
            stored = store.lookup(g.user.id, key)
            if stored is not None:
                return _answer_for(stored, digest)
            g.idempotency = _Pending(key=key, request_hash=digest)
        try:
            body, status = fn(*args, **kwargs)
        except _Answer as answer:
            return answer.response
        pending: _Pending | None = g.get("idempotency")
        if pending is not None and not pending.recorded and 200 <= status < 300:
            store.complete(g.user.id, pending.key, status, body)
        resp = jsonify(body)
        resp.status_code = status
        return resp

    return wrapper  # type: ignore[return-value]
