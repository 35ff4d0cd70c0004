"""Template globals: vendored scripts, versioned static URLs."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app, url_for


@lru_cache(maxsize=64)
def _file_hash(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def static_url(filename: str) -> str:
    """Return a static URL with a content-hash version, so files can be cached for a year."""
    path = Path(current_app.static_folder or "") / filename
    try:
        version = _file_hash(str(path), path.stat().st_mtime)
    except OSError:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=version)


def init_app(app: Flask) -> None:
    """Expose the helpers to every template."""

    @app.context_processor
    def _globals() -> dict[str, Any]:
        from notifier.vendor import script_tags

        return {
            "static_url": static_url,
            "vendor_scripts": lambda: script_tags(static_url, app.static_folder),
        }
