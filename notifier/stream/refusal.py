"""Answer a stream the hub refused: 429 over the per-user limit, 503 when full or draining."""

from __future__ import annotations

from flask import Response, current_app

from notifier.bus.hub import TooManyConnections
from notifier.responses import error_response
from notifier.stream.wire import retry_after_s


def refusal(exc: TooManyConnections) -> Response:
    """Answer a stream over a limit: 429 (per user) or 503 (per process, draining), Retry-After."""
    if exc.scope == "draining":  # a restart: another process takes it in a few seconds
        return error_response(
            503,
            "this server is restarting; reconnect in a few seconds",
            code="draining",
            headers={"Retry-After": str(retry_after_s())},
        )
    # A closed connection frees its slot within one ping interval + 1 s (CONTRACT §6).
    headers = {"Retry-After": str(int(current_app.config["NOTIFIER_PING_INTERVAL"]) + 1)}
    if exc.scope == "user":
        return error_response(
            429,
            f"at most {exc.limit} stream connections per user",
            code="too_many_connections",
            headers=headers,
        )
    return error_response(
        503,
        "this server holds all the streams it may; retry later",
        code="server_busy",
        headers=headers,
    )
