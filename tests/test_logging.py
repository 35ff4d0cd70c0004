"""Logging: timestamps and levels, JSON lines, request ids, gunicorn's error log (issue 8.10)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from notifier import create_app
from notifier.config import ConfigError
from notifier.logs import RequestIdFilter, request_id_from
from tests.fixtures_live import ROOT, LiveServer, free_port

# A port nothing listens on: the bus cannot connect, so the app logs a warning at start.
CLOSED_REDIS = f"redis://127.0.0.1:{free_port()}/0"
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) \[\d+\] ")


def wait_for(predicate: Callable[[], bool], timeout: float = 30) -> None:
    """Poll ``predicate`` until it holds (or fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """GET ``url``; return the status and the response headers."""
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
        return r.status, dict(r.headers)


def test_json_lines_carry_time_level_logger_and_request_id(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    """NOTIFIER_LOG_FORMAT=json: every stderr line is JSON; the access line has the echoed id."""
    server = live_server_factory({"NOTIFIER_LOG_FORMAT": "json", "REDIS_URL": CLOSED_REDIS})
    status, headers = get(server.url + "/healthz", {"X-Request-ID": "abc123"})
    assert status == 200
    assert headers["X-Request-ID"] == "abc123"
    wait_for(lambda: "abc123" in server.log())
    server.stop()

    records = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    for rec in records:
        assert {"time", "level", "logger", "message", "request_id"} <= rec.keys(), rec
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", rec["time"])
    access = [r for r in records if r["logger"] == "notifier.access" and "/healthz" in r["message"]]
    mine = [r for r in access if r["request_id"] == "abc123"]
    assert mine and "rid=abc123" in mine[0]["message"]
    # The app's own warning about the unreachable bus, with its level, outside any request.
    bus = [r for r in records if "bus unavailable" in r["message"]]
    assert bus and bus[0]["level"] == "ERROR" and bus[0]["request_id"] == "-"


def test_text_lines_have_timestamp_and_level_and_a_generated_id(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    """The default text format: the Redis warning is timestamped; a bad X-Request-ID is replaced."""
    server = live_server_factory({"REDIS_URL": CLOSED_REDIS})
    _, headers = get(server.url + "/healthz", {"X-Request-ID": 'evil"\tid with spaces'})
    rid = headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    wait_for(lambda: f"rid={rid}" in server.log())
    lines = server.log().splitlines()
    bus = [line for line in lines if "bus unavailable at start" in line]
    assert bus and TEXT_LINE.match(bus[0]) and " ERROR " in bus[0]
    access = [line for line in lines if f"rid={rid}" in line]
    assert TEXT_LINE.match(access[0]) and '"GET /healthz HTTP/1.1" 200' in access[0]
    assert "evil" not in server.log()


def test_gunicorn_error_log_gets_the_apps_warnings(tmp_path: Path) -> None:
    """Under gunicorn the app's records land in --error-logfile; access lines carry rid=."""
    error_log = tmp_path / "error.log"
    access_log = tmp_path / "access.log"
    server = LiveServer(tmp_path, {"REDIS_URL": CLOSED_REDIS}, gunicorn_workers=1)
    server.flask("init-db")
    # LiveServer's gunicorn command line, plus log files (gunicorn.conf.py is read from ROOT).
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "-b",
        f"127.0.0.1:{server.port}",
        "--error-logfile",
        str(error_log),
        "--access-logfile",
        str(access_log),
        "app:app",
    ]
    with open(server.log_path, "ab") as out:
        server.proc = subprocess.Popen(cmd, cwd=ROOT, env=server.env, stdout=out, stderr=out)
    try:
        server.wait_ready(timeout=60)
        _, headers = get(server.url + "/healthz", {"X-Request-ID": "gunicorn-rid.1"})
        assert headers["X-Request-ID"] == "gunicorn-rid.1"
        wait_for(lambda: access_log.exists() and "rid=gunicorn-rid.1" in access_log.read_text())
        text = error_log.read_text()
        bus = [line for line in text.splitlines() if "bus unavailable at start" in line]
        assert bus and TEXT_LINE.match(bus[0]) and "notifier.workers" in bus[0]
        assert "bus unavailable" not in server.log()  # not on bare stderr any more
    finally:
        server.stop()


def test_request_id_is_echoed_and_on_records_logged_during_the_request(app: Flask) -> None:
    """In-process: the header round-trips, and a record logged by a view carries the id."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.request_id)  # type: ignore[attr-defined]

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    log = logging.getLogger("notifier.test_logging")
    log.addHandler(handler)
    try:

        @app.get("/_log_something")
        def _log_something() -> str:
            log.warning("inside a request")
            return "ok"

        client = app.test_client()
        resp = client.get("/_log_something", headers={"X-Request-ID": "req-42"})
        assert resp.headers["X-Request-ID"] == "req-42"
        assert seen == ["req-42"]
        resp = client.get("/healthz")
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-ID"])
    finally:
        log.removeHandler(handler)


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc123", True), ("0f8e-uuid:1.2_x", True), ("", False), ("a b", False), ("x" * 129, False)],
)
def test_only_sane_request_ids_are_kept(given: str, kept: bool) -> None:
    """Letters, digits and . _ : - up to 128 characters; anything else gets a fresh id."""
    assert (request_id_from(given) == given) is kept


def test_log_format_is_validated(tmp_path: Path) -> None:
    """NOTIFIER_LOG_FORMAT other than text/json stops the app, naming the variable."""
    with pytest.raises(ConfigError, match="NOTIFIER_LOG_FORMAT"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "NOTIFIER_LOG_FORMAT": "xml"})
