"""Rate limits with Flask-Limiter: publishing per API token, login per client and per account.

Flask-Limiter gives exact moving windows, Retry-After, and Redis storage shared by every
process (memory:// when no Redis is configured). Each app gets its own Limiter, so test apps
never share counters or the enabled switch; views name their limit with :func:`rate_limit`
and the app's limiter is looked up when the view runs, whichever app that is.

Config: ``RATELIMIT_ENABLED`` (default on; tests turn it off), ``RATELIMIT_STORAGE_URI``
(default: the Redis URL when configured, else ``memory://``), ``NOTIFIER_RATE_LIMIT_PUBLISH``
(``200/second;6000/minute`` per admin API token: 100/s sustained with bursts to 200),
``NOTIFIER_RATE_LIMIT_LOGIN`` (``10/minute`` per client address, every POST) and
``NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT`` (``10/minute`` per submitted email, failed attempts).
The client address is the TCP peer, or with ``NOTIFIER_TRUSTED_PROXIES`` = N the address N hops
back in X-Forwarded-For (werkzeug's ProxyFix, installed by create_app).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial, wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask.globals import request_ctx
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from notifier import config as config_mod
from notifier.responses import error_response

F = TypeVar("F", bound=Callable[..., Any])
EXTENSION = "notifier.limits"
# The keys this module reads, for an app not built by create_app; the defaults are Config's.
DEFAULTS = {
    key: getattr(config_mod.Config, key)
    for key in (
        "RATELIMIT_ENABLED",
        "NOTIFIER_RATE_LIMIT_PUBLISH",
        "NOTIFIER_RATE_LIMIT_LOGIN",
        "NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT",
    )
}


@dataclass
class LimitState:
    """One app's limiter and its views wrapped by that limiter (built on first use)."""

    limiter: Limiter
    guarded: dict[str, Callable[..., Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def user_key() -> str:
    """Key a limit by the authenticated caller (the view must sit inside api_auth)."""
    user = g.get("user")
    return f"user:{user.id}" if user is not None else f"ip:{get_remote_address()}"


def token_key() -> str:
    """Key a limit by the bearer token (hashed), else the caller; for views inside api_auth."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + _digest(token.strip())
    return user_key()


def ip_key() -> str:
    """Key a limit by the client address (NOTIFIER_TRUSTED_PROXIES makes it the client's)."""
    return f"ip:{get_remote_address()}"


def account_key() -> str:
    """Key a limit by the submitted email, normalized as check_login looks it up."""
    email = str(request.form.get("email") or "").strip().lower()
    return "account:" + _digest(email)  # hashed: no addresses in the limiter's store


def failed_login(response: Response) -> bool:
    """Return True for a wrong email or password (the login view answers 401)."""
    return response.status_code == 401


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def init_app(app: Flask) -> None:
    """Create this app's limiter and answer 429 with Retry-After (JSON on the API)."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    limiter = Limiter(
        key_func=ip_key,
        storage_uri=storage_uri(app.config),
        strategy="moving-window",
        # Redis down must not turn into failed publishes: count in memory until it is back.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        key_prefix="notifier",
        enabled=bool(app.config["RATELIMIT_ENABLED"]),
    )
    limiter.init_app(app)
    _only_where_limited(app, limiter)
    app.extensions[EXTENSION] = LimitState(limiter=limiter)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded) -> Any:
        headers = {"Retry-After": str(retry_after(limiter))}
        if request.path.startswith("/api/"):
            return error_response(
                429,
                f"rate limit exceeded: {exc.description}",
                code="rate_limited",
                headers=headers,
            )
        resp = exc.get_response()
        resp.headers.update(headers)
        return resp


def _only_where_limited(app: Flask, limiter: Limiter) -> None:
    """Keep Flask-Limiter's per-request hooks off the requests no limit applies to.

    ``limiter.init_app`` hooks every request: a before_request check (it resolves app-wide,
    default and meta limits, of which Notifier configures none: every limit here is a view
    decorator, checked when the view runs), an after_request (deductions of ``deduct_when``
    limits, rate-limit headers) and a teardown (reset the request's limiter state). That was
    7 % of a /healthz request (py-spy). Without app-wide limits the check finds nothing, so it
    goes; the other two have work only when a decorated limit ran, which leaves the limiter's
    state on the request context, so they run only then.
    """
    manager = limiter.limit_manager
    app_wide = (
        manager._default_limits,
        manager._application_limits,
        limiter._meta_limits,
        limiter._in_memory_fallback,
    )
    if not any(app_wide):
        before = app.before_request_funcs.get(None, [])
        before[:] = [f for f in before if f != limiter._check_request_limit]

    def ran() -> bool:
        return hasattr(request_ctx, "_limiter_request_context")

    after = app.after_request_funcs.get(None, [])
    after[:] = [_when(ran, f) if _owned_by(f, limiter) else f for f in after]
    teardown = app.teardown_request_funcs.get(None, [])
    teardown[:] = [_when(ran, f) if _owned_by(f, limiter) else f for f in teardown]


def _owned_by(fn: Callable[..., Any], limiter: Limiter) -> bool:
    """Return True for the limiter's own hook (a bound method or a partial over it)."""
    if getattr(fn, "__self__", None) is limiter:
        return True
    return isinstance(fn, partial) and fn.args[:1] == (limiter,)


def _when(condition: Callable[[], bool], fn: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``fn`` run only while ``condition()``, else returning its first argument."""

    @wraps(fn)
    def hook(arg: Any = None) -> Any:
        return fn(arg) if condition() else arg

    return hook


def storage_uri(cfg: Mapping[str, Any]) -> str:
    """Return RATELIMIT_STORAGE_URI, else the app's Redis (shared by every process), else memory."""
    if cfg.get("RATELIMIT_STORAGE_URI"):
        return str(cfg["RATELIMIT_STORAGE_URI"])
    url = config_mod.redis_url(dict(cfg))
    if not url:
        return "memory://"
    if config_mod.redis_cluster(dict(cfg)) and url.startswith("redis://"):
        return "redis+cluster://" + url[len("redis://") :]  # keys spread over the shards
    # The limits library spells redis-py's unix:// socket URLs redis+unix://.
    return "redis+unix://" + url[len("unix://") :] if url.startswith("unix://") else url


def retry_after(limiter: Limiter) -> int:
    """Return whole seconds until the breached window frees a slot (at least 1)."""
    current = limiter.current_limit
    if current is None:
        return 1
    # window[0] is when the oldest counted hit leaves the moving window.
    return max(1, math.ceil(current.window[0] - time.time()))


@dataclass(frozen=True)
class Rule:
    """One limit on a view: the rate in ``config_key``, counted per ``key_func()``.

    ``deduct_when`` (given the response) decides whether a request counts; every request is
    checked against the limit either way, so a breached limit refuses even a would-be success.
    """

    config_key: str
    key_func: Callable[[], str]
    methods: tuple[str, ...] | None = None
    deduct_when: Callable[[Response], bool] | None = None


def rate_limit(
    config_key: str, *, key_func: Callable[[], str], methods: list[str] | None = None
) -> Callable[[F], F]:
    """Limit a view to the rate in ``config_key``, counted per ``key_func()``."""
    return rate_limits(Rule(config_key, key_func, tuple(methods) if methods else None))


def rate_limits(*rules: Rule) -> Callable[[F], F]:
    """Limit a view by every rule at once (a request over any of them gets 429)."""

    def deco(fn: F) -> F:
        name = f"{fn.__module__}.{fn.__qualname__}"

        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            st: LimitState | None = app.extensions.get(EXTENSION)
            if st is None or not st.limiter.enabled:
                return fn(*args, **kwargs)
            guarded = st.guarded.get(name)
            if guarded is None:
                with st.lock:  # wrap once: two wrappers would count every hit twice
                    guarded = st.guarded.get(name)
                    if guarded is None:
                        guarded = _guard(st.limiter, app, fn, rules)
                        st.guarded[name] = guarded
            return guarded(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def _guard(
    limiter: Limiter, app: Flask, fn: Callable[..., Any], rules: tuple[Rule, ...]
) -> Callable[..., Any]:
    """Stack one limiter.limit per rule; Flask-Limiter checks them all in the innermost one."""
    guarded = fn
    for rule in rules:

        def rate(key: str = rule.config_key) -> str:
            return str(app.config[key])

        guarded = limiter.limit(
            rate,
            key_func=rule.key_func,
            methods=list(rule.methods) if rule.methods else None,
            deduct_when=rule.deduct_when,
        )(guarded)
    return guarded


# Publishing is counted per API token (only admins publish), so one noisy integration cannot
# starve the others; the default fits a backend service, members never get this far (403).
publish_limit = rate_limit("NOTIFIER_RATE_LIMIT_PUBLISH", key_func=token_key)
# Login: per client address (one guesser) and per account (many addresses guessing one
# password). The account limit counts failures only, yet refuses every attempt once breached.
login_limit = rate_limits(
    Rule("NOTIFIER_RATE_LIMIT_LOGIN", ip_key, ("POST",)),
    Rule("NOTIFIER_RATE_LIMIT_LOGIN_ACCOUNT", account_key, ("POST",), failed_login),
)
