"""Check configuration values at start: each key's type and allowed values, declared once.

A bad value must stop the process with a message naming the variable and what it may be
(CONTRACT §8), not surface later as a traceback on every worker tick while the server looks
healthy (``NOTIFIER_SMTP_TLS=false`` did exactly that). ``RULES`` declares every key that has
a constraint; keys missing from it fall back to the type their set in ``config`` gives them.
Environment strings are parsed by the same rules, and typed values (``instance/config.py``,
``test_config``) are checked by them, so all three sources meet the same contract.
"""

from __future__ import annotations

import math
from collections.abc import Collection, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

Kind = Literal["int", "number", "bool", "choice", "url", "rate", "sqlalchemy_url"]

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class ConfigError(ValueError):
    """One or more configuration values are not allowed; the process must not start.

    ``str()`` is one line per bad key: ``NOTIFIER_SMTP_TLS='false' is not valid (allowed: …)``.
    """

    def __init__(self, problems: list[tuple[str, Any, str]]) -> None:
        """Keep (key, value, allowed) for each bad key."""
        self.problems = problems
        lines = [f"{key}={value!r} is not valid (allowed: {rule})" for key, value, rule in problems]
        super().__init__("\n".join(lines))

    @property
    def keys(self) -> list[str]:
        """Return the names of the bad keys."""
        return [key for key, _, _ in self.problems]


@dataclass(frozen=True, slots=True)
class Rule:
    """What one key may hold."""

    kind: Kind
    minimum: float | None = None
    maximum: float | None = None
    # Exclusive minimum: an interval of 0 would make its loop spin.
    positive: bool = False
    choices: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()

    def allowed(self) -> str:
        """Describe the allowed values for the error message."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "one of " + ", ".join(TRUE + FALSE)
        if self.kind == "url":
            return "a URL with scheme " + " or ".join(f"{s}:" for s in self.schemes)
        if self.kind == "rate":
            return 'rate limits such as "300/minute" or "10/second;300/minute"'
        if self.kind == "sqlalchemy_url":
            return "a database URL such as sqlite:///path or postgresql://user:pass@host/db"
        what = "an integer" if self.kind == "int" else "a number"
        if self.positive:
            return f"{what} > 0"
        if self.minimum is not None and self.maximum is not None:
            return f"{what} from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"{what} >= {self.minimum:g}"
        return what

    def parse(self, raw: str) -> Any:
        """Turn an environment string into the typed value; ValueError when it is not one."""
        text = raw.strip()
        if self.kind == "int":
            return self.coerce(int(text))
        if self.kind == "number":
            number = float(text)
            return self.coerce(int(number) if number.is_integer() else number)
        if self.kind == "bool":
            if text.lower() in TRUE:
                return True
            if text.lower() in FALSE:
                return False
            raise ValueError(text)
        return self.coerce(text)

    def coerce(self, value: Any) -> Any:
        """Return the value checked (a choice lower-cased); ValueError when not allowed."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str):
                return self.parse(value)
            raise ValueError(value)
        if self.kind in ("int", "number"):
            if isinstance(value, str):
                return self.parse(value)
            ok = isinstance(value, int) if self.kind == "int" else isinstance(value, int | float)
            if not ok or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(value)
            low_ok = self.minimum is None or value >= self.minimum
            if not low_ok or (self.positive and value <= 0):
                raise ValueError(value)
            if self.maximum is not None and value > self.maximum:
                raise ValueError(value)
            return value
        if not isinstance(value, str):
            raise ValueError(value)
        if self.kind == "choice":
            if value.strip().lower() not in self.choices:
                raise ValueError(value)
            return value.strip().lower()
        if self.kind == "url":
            parts = urlsplit(value)
            if parts.scheme.lower() not in self.schemes:
                raise ValueError(value)
            if parts.scheme.lower() in ("http", "https") and not parts.hostname:
                raise ValueError(value)
            return value
        if self.kind == "rate":
            from limits import parse_many

            parse_many(value)
            return value
        if self.kind == "sqlalchemy_url":
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(value)
            except ArgumentError as exc:
                raise ValueError(value) from exc
            return value
        return value


PORT = Rule("int", minimum=1, maximum=65535)
COUNT = Rule("int", minimum=1)
SECONDS = Rule("number", positive=True)
HTTP = ("http", "https")

RULES: dict[str, Rule] = {
    "DATABASE_URL": Rule("sqlalchemy_url"),
    "REDIS_URL": Rule("url", schemes=("redis", "rediss", "unix", "redis+cluster")),
    "REDIS_PORT": PORT,
    "REDIS_DB": Rule("int", minimum=0),
    "NOTIFIER_PING_INTERVAL": SECONDS,
    "NOTIFIER_CLEANUP_INTERVAL": SECONDS,
    "NOTIFIER_PRUNE_INTERVAL": SECONDS,
    "NOTIFIER_SCHEDULER_INTERVAL": SECONDS,
    "NOTIFIER_DELIVERY_INTERVAL": SECONDS,
    "NOTIFIER_DELIVERY_TIMEOUT": SECONDS,
    "NOTIFIER_DELIVERY_CONCURRENCY": COUNT,
    "NOTIFIER_MAX_CONNECTIONS_PER_USER": COUNT,
    "NOTIFIER_MAX_CONNECTIONS": COUNT,
    "NOTIFIER_QUEUE_SIZE": COUNT,
    "NOTIFIER_MAX_BODY": COUNT,
    "NOTIFIER_STREAM_TOKEN_TTL": COUNT,
    "NOTIFIER_EMBED_TOKEN_TTL": COUNT,
    "NOTIFIER_RETRY_BASE": Rule("number", minimum=0),
    "NOTIFIER_RETRY_MAX_ATTEMPTS": COUNT,
    "NOTIFIER_RETENTION_DAYS": COUNT,
    "NOTIFIER_SMTP_PORT": PORT,
    "NOTIFIER_SMTP_TLS": Rule("choice", choices=("none", "starttls", "ssl")),
    "NOTIFIER_LOG_FORMAT": Rule("choice", choices=("text", "json")),
    "NOTIFIER_VAPID_SUBJECT": Rule("url", schemes=("mailto", "https")),
    "NOTIFIER_SMS_URL": Rule("url", schemes=HTTP),
    "NOTIFIER_BASE_URL": Rule("url", schemes=HTTP),
    "NOTIFIER_RATE_LIMIT_PUBLISH": Rule("rate"),
    "NOTIFIER_RATE_LIMIT_LOGIN": Rule("rate"),
    "RATELIMIT_STORAGE_URI": Rule(
        "url",
        schemes=(
            "memory",
            "redis",
            "rediss",
            "redis+unix",
            "redis+cluster",
            "redis+sentinel",
            "memcached",
            "mongodb",
            "mongodb+srv",
            "valkey",
            "valkeys",
            "valkey+unix",
        ),
    ),  # fmt: skip
    "NOTIFIER_CLIENT_RECONNECT_DELAY_MS": COUNT,
    "NOTIFIER_CLIENT_MAX_RECONNECT_DELAY_MS": COUNT,
    "NOTIFIER_CLIENT_MAX_RECONNECT_ATTEMPTS": Rule("int", minimum=0),
}


def rule_for(
    key: str, int_keys: Collection[str] = (), bool_keys: Collection[str] = ()
) -> Rule | None:
    """Return the key's rule: declared in RULES, else from the type set it is in, else None."""
    if key in RULES:
        return RULES[key]
    if key in int_keys:
        return Rule("int")
    if key in bool_keys:
        return Rule("bool")
    return None


def check(
    cfg: MutableMapping[str, Any],
    int_keys: Collection[str] = (),
    bool_keys: Collection[str] = (),
) -> None:
    """Check every key with a rule (unset ones are skipped), normalise in place, or raise.

    Raises ConfigError listing every bad key at once, so one start tells the whole story.
    """
    problems: list[tuple[str, Any, str]] = []
    for key in sorted({*RULES, *int_keys, *bool_keys}):
        value = cfg.get(key)
        rule = rule_for(key, int_keys, bool_keys)
        if value is None or value == "" or rule is None:
            continue
        try:
            cfg[key] = rule.coerce(value)
        except ValueError:
            problems.append((key, value, rule.allowed()))
    if problems:
        raise ConfigError(problems)


def parse_environ(
    key: str, raw: str, int_keys: Collection[str] = (), bool_keys: Collection[str] = ()
) -> Any:
    """Return an environment string as its key's type; ConfigError when it is not one."""
    rule = rule_for(key, int_keys, bool_keys)
    if rule is None:
        return raw
    try:
        return rule.parse(raw)
    except ValueError:
        raise ConfigError([(key, raw, rule.allowed())]) from None
