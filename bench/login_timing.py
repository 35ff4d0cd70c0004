"""Measure POST /login for a wrong password and for an unknown email (CONTRACT §8: ±20 %).

Usage: python -m bench.login_timing [--n 40] [--fast]. Each round posts one wrong password for a
real account and one password for an email nobody has, alternating so machine noise falls on
both alike, through the real login view (Flask test client, fresh SQLite file, rate limits and
CSRF off). ``--fast`` uses the test suite's NOTIFIER_TESTING_FAST_HASH instead of scrypt.
Prints the medians in milliseconds and their ratio (unknown / wrong password).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from flask.testing import FlaskClient

from notifier import create_app
from notifier.extensions import db
from notifier.service import accounts


def timed_post(client: FlaskClient, email: str) -> float:
    """Post one failing login and return its duration in seconds."""
    start = time.perf_counter()
    resp = client.post("/login", data={"email": email, "password": "not-the-password"})
    elapsed = time.perf_counter() - start
    assert resp.status_code == 401, resp.status_code
    return elapsed


def measure(n: int, fast: bool) -> tuple[float, float]:
    """Return the median seconds of (wrong password, unknown email) over ``n`` rounds each."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite'}",
                "NOTIFIER_TESTING_FAST_HASH": fast,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "NOTIFIER_INSTANCE": "bench",
            }
        )
        with app.app_context():
            db.create_all()
            tenant = accounts.get_or_create_tenant("bench")
            accounts.create_user("known@example.com", "the-real-password", tenant=tenant)
            client = app.test_client()
            # Warm up: first requests pay for imports, templates and the lazy dummy hash.
            for email in ("known@example.com", "warm@example.com") * 3:
                timed_post(client, email)
            wrong, unknown = [], []
            for i in range(n):
                wrong.append(timed_post(client, "known@example.com"))
                unknown.append(timed_post(client, f"nobody{i}@example.com"))
            db.session.remove()
            db.engine.dispose()
    return statistics.median(wrong), statistics.median(unknown)


def main() -> None:
    """Parse arguments, measure, print one line per mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="logins of each kind")
    parser.add_argument("--fast", action="store_true", help="NOTIFIER_TESTING_FAST_HASH mode")
    args = parser.parse_args()
    wrong, unknown = measure(args.n, args.fast)
    mode = "fast-hash (pbkdf2:sha256:1000)" if args.fast else "real hash (scrypt:32768:8:1)"
    print(
        f"{mode}: n={args.n} wrong password {wrong * 1000:.1f} ms, "
        f"unknown email {unknown * 1000:.1f} ms, ratio {unknown / wrong:.2f}"
    )


if __name__ == "__main__":
    main()
