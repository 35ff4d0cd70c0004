"""Instance identity: every process (and app) has its own name in the cluster stats."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from notifier import metrics, node_stats, workers
from notifier.extensions import db, state
from tests.conftest import make_app


@pytest.mark.redis
def test_two_apps_with_one_instance_name_keep_their_own_counts(
    tmp_path: Path, redis_url: str
) -> None:
    # Two gunicorn workers of one host read the same NOTIFIER_INSTANCE from the environment.
    apps = [
        make_app(
            f"sqlite:///{tmp_path / f'{i}.sqlite'}", REDIS_URL=redis_url, NOTIFIER_INSTANCE="web1"
        )
        for i in range(2)
    ]
    try:
        names = [state(app).instance for app in apps]
        assert names[0] != names[1]
        assert all(name.startswith("web1:") for name in names)
        for app, streams in zip(apps, (3, 2), strict=True):
            for uid in range(streams):
                state(app).hub.subscribe(uid + 1, 1)
            with app.app_context():
                workers.node_stats_tick(app)
        with apps[0].app_context():
            shared = node_stats.cluster_stats(apps[0])
        assert sorted(s["instance"] for s in shared) == sorted(names)
        assert sum(int(s["connections"]) for s in shared) == 5
    finally:
        for app in apps:
            state(app).broker.stop()
            with app.app_context():
                db.engine.dispose()


def test_the_default_name_is_host_and_pid() -> None:
    name = metrics.process_identity(None)
    host, pid, suffix = name.rsplit(":", 2)
    assert (host, pid) == (socket.gethostname(), str(os.getpid()))
    assert suffix and metrics.process_identity(None) != name
