"""Run the documented backup, restore and upgrade procedures for real and check the data survived.

PostgreSQL (a throwaway cluster under /tmp, tests/fixtures_postgres.py):
  1. create the role and the database as docs/deployment.md §1 says, as the superuser;
  2. `flask init-db` as that role (not a superuser), seed data, one API token;
  3. `flask db downgrade` (one revision): the schema of the previous release, with the data in it;
  4. pg_dump -Fc → drop the database → create it again → pg_restore;
  5. `flask init-db` upgrades the restored copy to this release's head;
  6. serve it with `python app.py` and read the data back through the API with the old token.
SQLite (docs/operations.md): `sqlite3 DB ".backup FILE"` while `python app.py` runs and a client
keeps publishing, then restore the file into place, `flask init-db`, serve, and compare.

Run from a checkout: `.venv/bin/python scripts/backup_restore.py`; exit 0 when every check held.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures_live import LiveServer, http_json  # noqa: E402
from tests.fixtures_postgres import PostgresServer  # noqa: E402

TABLES = ("tenants", "users", "api_tokens", "notifications", "events", "preferences")
failures: list[str] = []
# What the API's total counts for alice: her notifications not deleted.
ALICE_VISIBLE = (
    "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id "
    "WHERE u.email = 'alice@example.com' AND n.deleted_at IS NULL"
)


def say(line: str) -> None:
    """Print one transcript line at once."""
    print(line, flush=True)


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run and echo a command; stop the script when it fails."""
    say("$ " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if out.returncode != 0:
        say(out.stdout + out.stderr)
        raise SystemExit(f"command failed with exit code {out.returncode}")
    return out


def check(what: str, ok: bool) -> None:
    """Record one check in the transcript."""
    say(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)


def flask(server: LiveServer, *args: str) -> str:
    """`flask --app app …` against the server's database, echoed."""
    say("$ flask --app app " + " ".join(args))
    return server.flask(*args)


def api_total(server: LiveServer, token: str) -> int:
    """Return the notification total the API reports for the token's user."""
    status, body = http_json(
        "GET", server.url + "/api/v1/notifications?status=all", headers=auth(token)
    )
    assert status == 200, (status, body)
    return int(body["total"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def postgres(work: Path) -> None:
    """The PostgreSQL procedure: role, schema, downgrade, dump, drop, restore, upgrade, serve."""
    say("== PostgreSQL: create role and database, backup, drop, restore, upgrade ==")
    pg = PostgresServer()
    pg.start()
    sock = str(pg.socket_dir)
    psql = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", sock, "-U", "postgres", "-d", "postgres"]
    create_db = (
        "CREATE DATABASE notifier OWNER notifier ENCODING 'UTF8' TEMPLATE template0 "
        "LC_COLLATE 'C' LC_CTYPE 'C'"
    )
    try:
        run([*psql, "-c", "CREATE ROLE notifier LOGIN PASSWORD 'change-me'"])
        run([*psql, "-c", create_db])
        url = f"postgresql://notifier@/notifier?host={sock}"
        server = LiveServer(work / "pg", {"DATABASE_URL": url})
        (work / "pg").mkdir()
        flask(server, "init-db")
        flask(server, "seed-demo")
        token = flask(server, "create-token", "alice@example.com", "--name", "backup").strip()
        flask(server, "send", "--to", "alice@example.com", "--type", "system", "--title", "kept")
        head = flask(server, "db", "current").split()[0]
        flask(server, "db", "downgrade")  # one revision back
        previous = flask(server, "db", "current").split()[0]
        before = counts(pg, "notifier")
        say(f"  schema {previous} (previous release, head is {head}); rows: {before}")

        dump = work / "notifier.dump"
        run(["pg_dump", "-Fc", "-h", sock, "-U", "notifier", "-d", "notifier", "-f", str(dump)])
        say(f"  dump: {dump.stat().st_size} bytes")
        run([*psql, "-c", "DROP DATABASE notifier WITH (FORCE)"])
        run([*psql, "-c", create_db])
        check("the dropped database is empty again", counts(pg, "notifier") == {})
        restore = ["pg_restore", "--no-owner", "-h", sock, "-U", "notifier", "-d", "notifier"]
        run([*restore, "--exit-on-error", str(dump)])
        check("restored rows equal the backup's", counts(pg, "notifier") == before)

        flask(server, "init-db")
        now = flask(server, "db", "current").split()[0]
        check(f"init-db upgraded the restored copy {previous} → {now} (head {head})", now == head)
        check("rows unchanged by the upgrade", counts(pg, "notifier") == before)
        server.start()
        try:
            total = api_total(server, token)
            check(f"API with the pre-backup token: alice has {total} notifications", total >= 1)
            status, _ = http_json(
                "POST",
                server.url + "/api/v1/notifications/read-all",
                headers=auth(token),
            )
            check(f"writes work after the restore (read-all {status})", status == 200)
        finally:
            server.stop()
    finally:
        pg.stop()


def counts(pg: PostgresServer, dbname: str) -> dict[str, int]:
    """Row counts of the main tables ({} when the schema is empty)."""
    import psycopg

    out = {}
    with psycopg.connect(host=str(pg.socket_dir), user="postgres", dbname=dbname) as conn:
        names = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        for table in TABLES:
            if table in names:
                # Names from TABLES above, never from input.
                row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
                out[table] = int(row[0]) if row else 0
    return out


def sqlite(work: Path) -> None:
    """The SQLite procedure: online .backup under writes, restore into place, init-db, serve."""
    say("== SQLite: online backup while the app runs and a client publishes ==")
    (work / "sq").mkdir()
    db_file = work / "sq" / "live.sqlite"
    server = LiveServer(work / "sq", {"DATABASE_URL": f"sqlite:///{db_file}"})
    flask(server, "init-db")
    flask(server, "seed-demo")
    admin = flask(server, "create-token", "admin@example.com", "--name", "writer").strip()
    alice = flask(server, "create-token", "alice@example.com", "--name", "reader").strip()
    server.start()
    stop = threading.Event()
    sent: list[int] = []

    def publish() -> None:
        while not stop.is_set():
            status, _ = http_json(
                "POST",
                server.url + "/api/v1/notifications",
                {"email": "alice@example.com", "type": "system", "title": f"n{len(sent)}"},
                headers=auth(admin),
            )
            if status == 201:
                sent.append(1)

    writer = threading.Thread(target=publish, daemon=True)
    writer.start()
    try:
        while len(sent) < 20:  # writes are under way when the backup starts
            time.sleep(0.05)
        backup = work / "backup.sqlite"
        run(["sqlite3", str(db_file), f".backup '{backup}'"])
        while len(sent) < 40:  # and go on after it
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join(timeout=10)
    live_total = api_total(server, alice)
    server.stop()
    integrity = run(["sqlite3", str(backup), "PRAGMA integrity_check"]).stdout.strip()
    check(f"backup integrity_check: {integrity}", integrity == "ok")
    in_backup = int(run(["sqlite3", str(backup), ALICE_VISIBLE]).stdout)
    say(f"  published {len(sent)} during the run; live total {live_total}; in backup {in_backup}")
    check("the backup holds a consistent prefix", 0 < in_backup <= live_total)

    # Restore: the server is stopped; the WAL and shared-memory files belong to the old file.
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{db_file}{suffix}")
        if old.exists():
            old.rename(Path(f"{old}.before-restore"))
    say(f"$ cp {backup} {db_file}")
    shutil.copyfile(backup, db_file)
    flask(server, "init-db")
    server.start()
    try:
        total = api_total(server, alice)
        check(f"served from the restored file: {total} notifications", total == in_backup)
    finally:
        server.stop()


def main() -> int:
    """Run both procedures in a temporary directory; print a transcript and a verdict."""
    work = Path(tempfile.mkdtemp(prefix="notifier-backup-"))
    started = time.monotonic()
    try:
        postgres(work)
        sqlite(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdict = "all checks held" if not failures else f"FAILED: {json.dumps(failures)}"
    say(f"== {verdict} ({time.monotonic() - started:.0f} s) ==")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
