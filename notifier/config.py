"""Configuration defaults: every NOTIFIER_* key, its default and why it exists."""

from __future__ import annotations

import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from notifier.config_check import ConfigError, check, parse_environ

__all__ = [
    "Config",
    "ConfigError",
    "ensure_secret_key",
    "from_environ",
    "redis_cluster",
    "redis_url",
    "validate",
]


class Config:
    """Defaults; overridden by instance/config.py, then the environment, then test_config."""

    # Sessions and signed stream tokens; generated into instance/ on first run when unset.
    SECRET_KEY: str | None = None
    # Any SQLAlchemy URL; SQLite in instance/ keeps `make run` dependency-free.
    DATABASE_URL: str | None = None
    # Unset means the in-memory bus (one process). REDIS_HOST/PORT/PASSWORD/DB build a URL too.
    REDIS_URL: str | None = None
    REDIS_HOST: str | None = None
    REDIS_PORT = 6379
    REDIS_PASSWORD: str | None = None
    REDIS_DB = 0
    # 1: the Redis of REDIS_URL is a Redis Cluster (sharded pub/sub); redis+cluster:// implies it.
    NOTIFIER_REDIS_CLUSTER = False
    # Seconds between `ping` events; also bounds how long a dead connection holds a slot.
    NOTIFIER_PING_INTERVAL = 25
    # Per-user stream limit (429 beyond it) and per-process cap (503 beyond it).
    NOTIFIER_MAX_CONNECTIONS_PER_USER = 10
    NOTIFIER_MAX_CONNECTIONS = 10000
    # Events buffered per stream before the client is dropped and told to resume.
    NOTIFIER_QUEUE_SIZE = 256
    # Seconds between sweeps for dead connections.
    NOTIFIER_CLEANUP_INTERVAL = 30
    # Seconds between prunes of the event log (NOTIFIER_RETENTION_DAYS), releases of due
    # scheduled sends, and claims of due deliveries (each worker; a claim takes many rows).
    NOTIFIER_PRUNE_INTERVAL = 3600
    NOTIFIER_SCHEDULER_INTERVAL = 5
    NOTIFIER_DELIVERY_INTERVAL = 1
    # Request bodies larger than this get 413 before any parsing (chunked ones too).
    NOTIFIER_MAX_BODY = 65536
    # `python app.py` only (gunicorn has --keep-alive): seconds a client has to send the request
    # line and headers, and seconds a keep-alive connection may idle between requests, so idle
    # sockets cannot pile up to the fd limit. Never applies to a running stream. 0 = no limit.
    # It also serves NOTIFIER_MAX_CONNECTIONS + 100 sockets at most, answering 503 beyond.
    NOTIFIER_HEADER_TIMEOUT = 10
    NOTIFIER_KEEPALIVE_TIMEOUT = 60
    # How long a stream token may be used to (re)connect.
    NOTIFIER_STREAM_TOKEN_TTL = 3600
    # How long the inbox-scoped token of an embedded widget lasts (it signs in again after).
    NOTIFIER_EMBED_TOKEN_TTL = 3600
    # Delivery retries: first delay, doubled with jitter, capped at 10 minutes.
    NOTIFIER_RETRY_BASE = 10
    NOTIFIER_RETRY_MAX_ATTEMPTS = 8
    # Sends in flight per channel and process: a frozen SMTP server ties up only this many
    # email sends; webhooks, push and SMS (and up to this many other emails) go on.
    NOTIFIER_DELIVERY_CONCURRENCY = 10
    # Seconds one send may take on any channel (connect to answer) before it is retried later;
    # also the channels' socket timeout when lower than their own (webhook 5 s, others 10 s).
    NOTIFIER_DELIVERY_TIMEOUT = 10
    # Event log kept this long; a cursor older than this gets `reset`.
    NOTIFIER_RETENTION_DAYS = 30
    NOTIFIER_SMTP_HOST: str | None = None
    NOTIFIER_SMTP_PORT = 587
    NOTIFIER_SMTP_USER: str | None = None
    NOTIFIER_SMTP_PASSWORD: str | None = None
    NOTIFIER_SMTP_TLS = "starttls"
    NOTIFIER_SMTP_FROM = "notifier@localhost"
    NOTIFIER_VAPID_PUBLIC_KEY: str | None = None
    NOTIFIER_VAPID_PRIVATE_KEY: str | None = None
    NOTIFIER_VAPID_SUBJECT = "mailto:admin@localhost"
    NOTIFIER_SMS_URL: str | None = None
    NOTIFIER_SMS_USER: str | None = None
    NOTIFIER_SMS_PASSWORD: str | None = None
    NOTIFIER_SMS_FROM: str | None = None
    # Webhooks to loopback/private addresses are refused (SSRF) unless this is on.
    NOTIFIER_WEBHOOK_ALLOW_PRIVATE = False
    # Types users cannot switch off in-app (security notices, say).
    NOTIFIER_MANDATORY_TYPES: tuple[str, ...] = ("security",)
    # Types offered in the preferences matrix besides those a user has received.
    NOTIFIER_TYPES: tuple[str, ...] = ("comment", "mention", "system", "billing", "security")
    # Flask-Limiter windows. Publishing per admin API token: 100/s sustained, bursts to 200/s,
    # so a backend service is not throttled. Login: every POST per client address, and failed
    # attempts per account (the submitted email), so many addresses cannot share one guess.
    NOTIFIER_RATE_LIMIT_PUBLISH = "200/second;6000/minute"
    NOTIFIER_RATE_LIMIT_LOGIN = "10/minute"
    NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT = "10/minute"
    # Reverse proxies in front of the app that append to X-Forwarded-For (nginx: 1). 0 trusts
    # no header: the client address is the TCP peer, so a client cannot pick its own address.
    NOTIFIER_TRUSTED_PROXIES = 0
    # Unrevoked API tokens one user may hold (409 beyond); `flask create-token` is not capped.
    NOTIFIER_MAX_TOKENS_PER_USER = 50
    RATELIMIT_ENABLED = True
    # Where Flask-Limiter counts; unset: the Redis above (shared by every process), else memory.
    RATELIMIT_STORAGE_URI: str | None = None
    # The page's stream client (the seeds' hook options): reconnect on its own, first delay
    # (doubling with jitter up to the max), attempts before showing "Offline" and a button.
    NOTIFIER_CLIENT_AUTO_RECONNECT = True
    NOTIFIER_CLIENT_RECONNECT_DELAY_MS = 1000
    NOTIFIER_CLIENT_MAX_RECONNECT_DELAY_MS = 30000
    NOTIFIER_CLIENT_MAX_RECONNECT_ATTEMPTS = 8
    # Public origin of the site (https://notify.example.com): makes links in email/push absolute.
    NOTIFIER_BASE_URL: str | None = None
    # Log lines on stderr (or gunicorn's error log): "text" (time level [pid] logger rid=…: msg)
    # or "json" (one object a line: time, level, logger, message, request_id, pid).
    NOTIFIER_LOG_FORMAT = "text"
    # Prefix of this process's name in cluster stats (default: host name); ":pid:random" is
    # always appended, since every worker of a host shares this value.
    NOTIFIER_INSTANCE: str | None = None
    # Cheap password hashing for the test suite only (hashing dominates fixture time otherwise).
    NOTIFIER_TESTING_FAST_HASH = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    SEND_FILE_MAX_AGE_DEFAULT = 31536000
    # Database pool (PostgreSQL). Pre-ping tests each pooled connection at checkout, so the
    # connections a database restart killed are replaced instead of failing a request each.
    NOTIFIER_DB_POOL_PRE_PING = True
    # Per process: budget hosts x workers x (size + overflow) against max_connections.
    NOTIFIER_DB_POOL_SIZE = 5
    NOTIFIER_DB_MAX_OVERFLOW = 10
    # Seconds after which a pooled connection is replaced (below firewall/PgBouncer idle cuts).
    NOTIFIER_DB_POOL_RECYCLE = 1800
    # Seconds a request waits for a free pooled connection before it answers 503 with
    # Retry-After (SQLAlchemy's 30 s default held requests that long and then answered 500).
    NOTIFIER_DB_POOL_TIMEOUT = 2
    # A request whose connection died before it wrote or committed anything is run once more,
    # after waiting up to this many seconds for the database to accept connections (0: never).
    NOTIFIER_DB_RETRY_WAIT = 5
    # Explicit options here win over the NOTIFIER_DB_* keys above.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}


# Read from the environment: the declared keys of these families, by their default's type
# (an annotation for the None defaults); tuples and dicts come from instance/config.py only.
ENV_PREFIXES = ("NOTIFIER_", "REDIS_", "RATELIMIT_")
ENV_KEYS = ("SECRET_KEY", "DATABASE_URL")


def _env_kind(key: str) -> str | None:
    """Return int, str or bool for a key the environment may set, else None."""
    if not (key.startswith(ENV_PREFIXES) or key in ENV_KEYS):
        return None
    default = getattr(Config, key)
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, str) or Config.__annotations__.get(key) == "str | None":
        return "str"
    return None


_KINDS = {key: kind for key in vars(Config) if key.isupper() and (kind := _env_kind(key))}
_INT_KEYS = frozenset(k for k, kind in _KINDS.items() if kind == "int")
_STR_KEYS = frozenset(k for k, kind in _KINDS.items() if kind == "str")
_BOOL_KEYS = frozenset(k for k, kind in _KINDS.items() if kind == "bool")


def from_environ(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Return the recognised keys present in the environment, coerced to their types.

    Raises ConfigError (naming the variable and the allowed values) for one that is not valid.
    """
    out: dict[str, Any] = {}
    problems: list[tuple[str, Any, str]] = []
    for key in sorted(_INT_KEYS | _STR_KEYS | _BOOL_KEYS):
        if key in environ and environ[key] != "":
            try:
                out[key] = parse_environ(key, environ[key], _INT_KEYS, _BOOL_KEYS)
            except ConfigError as exc:
                problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return out


def validate(cfg: MutableMapping[str, Any]) -> None:
    """Check every configured value against its rule (config_check.RULES), or raise ConfigError.

    create_app calls it once the defaults, instance/config.py, the environment and
    test_config are merged; ``app.py`` turns the error into exit status 2.
    """
    check(cfg, _INT_KEYS, _BOOL_KEYS)


def redis_url(cfg: dict[str, Any]) -> str | None:
    """Build the Redis URL from REDIS_URL or REDIS_HOST/PORT/PASSWORD/DB; None means memory."""
    if cfg.get("REDIS_URL"):
        return str(cfg["REDIS_URL"])
    host = cfg.get("REDIS_HOST")
    if not host:
        return None
    auth = f":{cfg['REDIS_PASSWORD']}@" if cfg.get("REDIS_PASSWORD") else ""
    return f"redis://{auth}{host}:{cfg.get('REDIS_PORT', 6379)}/{cfg.get('REDIS_DB', 0)}"


def redis_cluster(cfg: dict[str, Any]) -> bool:
    """Return True for a Redis Cluster: a redis+cluster:// URL or NOTIFIER_REDIS_CLUSTER."""
    url = redis_url(cfg) or ""
    return url.startswith("redis+cluster://") or (
        bool(url) and bool(cfg.get("NOTIFIER_REDIS_CLUSTER"))
    )


def ensure_secret_key(instance_path: str) -> str:
    """Read instance/secret_key, creating it (mode 0600) on first run."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
