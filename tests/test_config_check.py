"""Config values are checked at start (CONTRACT §8): a bad one stops the process, exit 2.

The subprocess tests run the real entry points (`python app.py`, `flask --app app`,
gunicorn) with one bad variable and read what an operator would see on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from notifier import config, create_app
from notifier.config import ConfigError, from_environ

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in the project with a clean NOTIFIER_* environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "REDIS_"))}
    base.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite'}", "SECRET_KEY": "x", **env})
    return subprocess.run(
        cmd, cwd=ROOT, env=base, capture_output=True, text=True, timeout=60, check=False
    )


def test_python_app_py_refuses_a_bad_smtp_tls_with_exit_2(tmp_path: Path) -> None:
    out = run([sys.executable, "app.py", "--port", "0"], tmp_path, NOTIFIER_SMTP_TLS="false")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr  # One line, no traceback.
    assert "NOTIFIER_SMTP_TLS='false'" in lines[0]
    assert "none, starttls, ssl" in lines[0]


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("NOTIFIER_PING_INTERVAL", "soon", "a number > 0"),
        ("NOTIFIER_PING_INTERVAL", "0", "a number > 0"),
        ("NOTIFIER_MAX_CONNECTIONS", "1e3x", "an integer >= 1"),
        ("NOTIFIER_SMTP_PORT", "70000", "an integer from 1 to 65535"),
        ("NOTIFIER_RETRY_BASE", "-5", "a number >= 0"),
        ("NOTIFIER_WEBHOOK_ALLOW_PRIVATE", "maybe", "1, true, yes, on, 0, false, no, off"),
        ("NOTIFIER_BASE_URL", "notify.example.com", "scheme http: or https:"),
        ("REDIS_URL", "http://cache:6379", "scheme redis: or rediss: or unix:"),
        ("NOTIFIER_RATE_LIMIT_LOGIN", "ten a minute", '"300/minute"'),
        ("DATABASE_URL", "not a url", "sqlite:///path"),
    ],
)
def test_each_bad_value_names_the_variable_and_what_it_may_be(
    tmp_path: Path, key: str, value: str, allowed: str
) -> None:
    out = run([sys.executable, "app.py", "--port", "0"], tmp_path, **{key: value})
    assert out.returncode == 2, out.stderr
    assert f"{key}={value!r}" in out.stderr and allowed in out.stderr
    assert "Traceback" not in out.stderr


def test_flask_cli_exits_2_too(tmp_path: Path) -> None:
    out = run(
        [sys.executable, "-m", "flask", "--app", "app", "init-db"],
        tmp_path,
        NOTIFIER_QUEUE_SIZE="big",
    )
    assert out.returncode == 2
    assert "NOTIFIER_QUEUE_SIZE='big'" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "c.sqlite").exists()  # Stopped before touching anything.


def test_gunicorn_exits_2_instead_of_rebooting_workers(tmp_path: Path) -> None:
    # A worker that exits 2 would just be replaced, forever: the master checks first.
    out = run(
        [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:0", "app:app"],
        tmp_path,
        NOTIFIER_SMTP_TLS="false",
    )
    assert out.returncode == 2
    assert "NOTIFIER_SMTP_TLS='false'" in out.stderr and "none, starttls, ssl" in out.stderr
    assert "Booting worker" not in out.stderr


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        from_environ({"NOTIFIER_SMTP_TLS": "tls", "NOTIFIER_QUEUE_SIZE": "x", "HOME": "/"})
    assert info.value.keys == ["NOTIFIER_QUEUE_SIZE", "NOTIFIER_SMTP_TLS"]


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"NOTIFIER_SMTP_TLS": "false"}, "NOTIFIER_SMTP_TLS"),
        ({"NOTIFIER_PING_INTERVAL": -1}, "NOTIFIER_PING_INTERVAL"),
        ({"NOTIFIER_QUEUE_SIZE": 2.5}, "NOTIFIER_QUEUE_SIZE"),
        ({"NOTIFIER_MAX_CONNECTIONS": True}, "NOTIFIER_MAX_CONNECTIONS"),
        ({"NOTIFIER_SCHEDULER_INTERVAL": 0}, "NOTIFIER_SCHEDULER_INTERVAL"),
        ({"NOTIFIER_VAPID_SUBJECT": "admin@example.com"}, "NOTIFIER_VAPID_SUBJECT"),
    ],
)
def test_instance_and_test_config_values_meet_the_same_rules(
    tmp_path: Path, config: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **config})
    assert info.value.keys == [key]


def test_good_values_are_parsed_and_normalised(tmp_path: Path) -> None:
    env = from_environ(
        {
            "NOTIFIER_SMTP_TLS": "SSL",
            "NOTIFIER_PING_INTERVAL": "2.5",
            "NOTIFIER_CLEANUP_INTERVAL": "30",
            "NOTIFIER_WEBHOOK_ALLOW_PRIVATE": "off",
            "RATELIMIT_ENABLED": "Yes",
            "NOTIFIER_RATE_LIMIT_PUBLISH": "10/second;300/minute",
            "REDIS_URL": "unix:///run/redis.sock?db=1",
            "RATELIMIT_STORAGE_URI": "memory://",
            "NOTIFIER_VAPID_SUBJECT": "https://notify.example.com/contact",
        }
    )
    assert env["NOTIFIER_PING_INTERVAL"] == 2.5 and env["NOTIFIER_CLEANUP_INTERVAL"] == 30
    assert env["NOTIFIER_WEBHOOK_ALLOW_PRIVATE"] is False and env["RATELIMIT_ENABLED"] is True
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **env})
    assert app.config["NOTIFIER_SMTP_TLS"] == "ssl"


def test_every_key_the_environment_reads_is_declared_in_config() -> None:
    # The reader is derived from Config: a loop interval once had its default only where it
    # was read, so no environment could set it.
    env = from_environ(
        {
            "NOTIFIER_PRUNE_INTERVAL": "600",
            "NOTIFIER_SCHEDULER_INTERVAL": "0.5",
            "NOTIFIER_DELIVERY_INTERVAL": "2",
        }
    )
    assert env == {
        "NOTIFIER_PRUNE_INTERVAL": 600,
        "NOTIFIER_SCHEDULER_INTERVAL": 0.5,
        "NOTIFIER_DELIVERY_INTERVAL": 2,
    }
    with pytest.raises(ConfigError) as info:
        from_environ({"NOTIFIER_SCHEDULER_INTERVAL": "0"})
    assert info.value.keys == ["NOTIFIER_SCHEDULER_INTERVAL"]
    assert config._KINDS.keys() <= vars(config.Config).keys()
