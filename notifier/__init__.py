"""Notifier: create_app builds the app (config, extensions, blueprints) and starts nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from notifier import config as config_mod
from notifier import (
    db_busy,
    db_retry,
    i18n,
    metrics_http,
    models_flows,  # noqa: F401 - its tables on db.metadata
)
from notifier.bus import make_broker
from notifier.bus.hub import Hub
from notifier.db_retry import RetryingFlask, engine_options
from notifier.extensions import NotifierState, csrf, db, login_manager, migrate
from notifier.metrics import process_identity

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent


def data_dir(name: str) -> Path:
    """Return templates/, static/ or migrations/: inside an installed package, else the checkout."""
    installed = PACKAGE / name
    return installed if installed.is_dir() else ROOT / name


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: defaults < instance/config.py < environment < test_config."""
    app = RetryingFlask(
        __name__,
        # Flask's own choice: <checkout>/instance, or <prefix>/var/notifier-instance when installed.
        instance_relative_config=True,
        template_folder=str(data_dir("templates")),
        static_folder=str(data_dir("static")),
    )
    app.config.from_object(config_mod.Config)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.update(config_mod.from_environ(os.environ))
    else:
        app.config.update(test_config)
    config_mod.validate(app.config)  # ConfigError: app.py exits 2 naming the variable.
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config_mod.ensure_secret_key(app.instance_path)
    url = (
        app.config.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'notifier.sqlite'}"
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = _normalize_db_url(url)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config, url)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["NOTIFIER_MAX_BODY"])
    app.config.setdefault("NOTIFIER_INSTANCE", None)
    instance = process_identity(app.config["NOTIFIER_INSTANCE"])

    metrics_http.init_app(app)  # first before_request hook, so every request is timed
    db.init_app(app)
    db_retry.init_app(app)
    db_busy.init_app(app)
    migrate.init_app(app, db, directory=str(data_dir("migrations")), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app, data_dir("translations"))

    hub = Hub(
        queue_size=int(app.config["NOTIFIER_QUEUE_SIZE"]),
        max_per_user=int(app.config["NOTIFIER_MAX_CONNECTIONS_PER_USER"]),
        max_total=int(app.config["NOTIFIER_MAX_CONNECTIONS"]),
    )
    broker = make_broker(
        config_mod.redis_url(app.config),
        hub,
        instance,
        cluster=config_mod.redis_cluster(app.config),
    )
    app.extensions["notifier"] = NotifierState(hub=hub, broker=broker, instance=instance)

    # Here, not at the top: these import notifier.* modules that import this package.
    from notifier import api, auth, cli, limits, logs, metrics, ops, security, web

    auth.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    metrics.init_app(app)  # the bus counters watch this app's broker and hub
    api.init_app(app)
    ops.init_app(app)
    limits.init_app(app)  # after the blueprints: it limits API and page routes alike
    web.init_app(app)
    from notifier import lane
    from notifier.body_limit import ChunkedBodyLimit

    # Flask's own wsgi_app first: the lane's routes skip Flask's dispatch, nothing else.
    api.install_lane(lane.install(app))
    _trust_proxies(app)

    # NOTIFIER_MAX_BODY must hold for chunked bodies too, which Werkzeug would cut and accept.
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, int(app.config["MAX_CONTENT_LENGTH"]))  # type: ignore[method-assign]
    logs.init_app(app)  # logging (unless the host set it up) and request ids, outermost
    return app


def _trust_proxies(app: Flask) -> None:
    """Take the client address and scheme from NOTIFIER_TRUSTED_PROXIES hops of X-Forwarded-*.

    Only X-Forwarded-For and -Proto: the documented nginx passes Host itself, and trusting
    X-Forwarded-Host would let a client choose the host of absolute links.
    """
    hops = int(app.config.get("NOTIFIER_TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0
        )


def _normalize_db_url(url: str) -> str:
    """Route postgres URLs to psycopg 3 and keep SQLite paths as given."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Turn on WAL, foreign keys and a busy timeout for SQLite connections."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
