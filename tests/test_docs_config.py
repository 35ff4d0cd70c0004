"""The README's configuration table names every key the code reads from the environment.

The keys come from the code itself (the typed key sets notifier/config.py declares and every
``os.environ`` read in app.py, gunicorn.conf.py and notifier/), so a new key without a README
row fails here instead of going undocumented (NOTIFIER_CLEANUP_INTERVAL once did).
"""

from __future__ import annotations

import re
from pathlib import Path

from notifier import config

ROOT = Path(__file__).resolve().parent.parent
ENV_READ = re.compile(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Z][A-Z0-9_]*)[\"']")


def environment_keys() -> set[str]:
    """Return every environment variable name the application reads."""
    keys = set(config._INT_KEYS | config._STR_KEYS | config._BOOL_KEYS)
    sources = [
        ROOT / "app.py",
        ROOT / "gunicorn.conf.py",
        *sorted((ROOT / "notifier").rglob("*.py")),
    ]
    for path in sources:
        keys |= set(ENV_READ.findall(path.read_text(encoding="utf-8")))
    return keys


def readme_table_keys() -> set[str]:
    """Return the back-quoted names in the first column of the README's configuration table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])}


def test_every_environment_key_has_a_readme_row() -> None:
    """Each key read from the environment appears in the first column of the table."""
    keys = environment_keys()
    assert "NOTIFIER_CLEANUP_INTERVAL" in keys and "NOTIFIER_LOG_FORMAT" in keys
    missing = sorted(keys - readme_table_keys())
    assert missing == [], f"add these to the README configuration table: {missing}"


def test_the_table_names_no_key_the_code_does_not_read() -> None:
    """A row for a key nothing reads is a documentation bug too (a typo, a removed setting)."""
    extra = sorted(readme_table_keys() - environment_keys())
    assert extra == [], f"README documents keys the code never reads: {extra}"
