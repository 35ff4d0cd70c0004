"""Pin the vendored front-end scripts and pick local or CDN ``<script>`` tags.

htmx and its SSE extension come from the npm registry, never from pip. ``scripts/vendor.py``
(``make vendor``) downloads the pinned npm tarballs, checks every extracted file against the
sha256 below and writes it to ``static/vendor/``, which git ignores. Templates call
:func:`script_tags`, which serves the local copy when it is present and intact and otherwise
points at the same bytes on the CDN with Subresource Integrity, so a machine without npm or
network still gets a working page in a browser that can reach the CDN.

This module is stdlib only: ``scripts/vendor.py`` loads it by file path, without Flask.

To move to a new version, change ``version`` (and ``member`` if the package layout changed),
run ``python scripts/vendor.py --print-pins``, paste the printed hashes here and run the
tests.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

#: Directory under the Flask static folder that holds the vendored files.
VENDOR_DIR = "vendor"

#: Origin the CDN fallback loads from; a Content-Security-Policy must allow it in
#: ``script-src`` whenever :func:`script_tags` returns a CDN entry.
CDN_ORIGIN = "https://cdn.jsdelivr.net"

#: Default npm registry; ``NPM_CONFIG_REGISTRY`` overrides it (as it does for npm itself).
NPM_REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Pin:
    """Describe one vendored file: where it comes from and what its bytes must hash to."""

    package: str  # npm package name
    version: str  # exact version, never a range
    member: str  # path of the file inside the npm tarball (below ``package/``)
    filename: str  # file name under static/vendor/
    sha256: str  # hex digest of the file's bytes
    integrity: str  # SRI value of the same bytes: "sha384-<base64>"

    @property
    def static_path(self) -> str:
        """Return the path relative to the static folder, e.g. ``vendor/htmx.min.js``."""
        return f"{VENDOR_DIR}/{self.filename}"

    @property
    def cdn_url(self) -> str:
        """Return the CDN URL that serves exactly the pinned bytes."""
        return f"{CDN_ORIGIN}/npm/{self.package}@{self.version}/{self.member}"

    def tarball_url(self, registry: str | None = None) -> str:
        """Return the npm registry URL of the package tarball."""
        base = (registry or os.environ.get("NPM_CONFIG_REGISTRY") or NPM_REGISTRY).rstrip("/")
        tail = self.package.rsplit("/", 1)[-1]  # scoped packages: @scope/name -> name
        return f"{base}/{self.package}/-/{tail}-{self.version}.tgz"


#: In load order: the SSE extension calls ``htmx.defineExtension`` and needs htmx first.
PINS: tuple[Pin, ...] = (
    Pin(
        package="htmx.org",
        version="2.0.11",
        member="dist/htmx.min.js",
        filename="htmx.min.js",
        sha256="d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
        integrity="sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg",
    ),
    Pin(
        package="htmx-ext-sse",
        version="2.2.4",
        member="dist/sse.js",
        filename="sse.js",
        sha256="3b5992a541619babefc4c169505af474df5c3039da51e59b96ccf9241ecd61d2",
        integrity="sha384-QA9wXqexhwzXTuTvuF5QP82pddm3R2hy81UzXi7ioNTqNF2b75hlkkSGjafohhL3",
    ),
)


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sri_sha384(data: bytes) -> str:
    """Return the Subresource Integrity value (``sha384-<base64>``) of ``data``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def verify_bytes(pin: Pin, data: bytes) -> bool:
    """Tell whether ``data`` is exactly the pinned file (sha256 and SRI both match)."""
    return sha256_hex(data) == pin.sha256 and sri_sha384(data) == pin.integrity


def verify_file(pin: Pin, path: str | os.PathLike[str]) -> bool:
    """Tell whether the file at ``path`` exists and holds exactly the pinned bytes."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return False
    return verify_bytes(pin, data)


# (path, size, mtime_ns) -> verified, so a page render does not re-hash unchanged files.
_verified: dict[tuple[str, int, int], bool] = {}


def local_file_ok(pin: Pin, static_folder: str | os.PathLike[str]) -> bool:
    """Tell whether ``static_folder`` holds an intact copy of ``pin`` (cached per file stat)."""
    path = os.path.join(os.fspath(static_folder), VENDOR_DIR, pin.filename)
    try:
        st = os.stat(path)
    except OSError:
        return False
    key = (path, st.st_size, st.st_mtime_ns)
    ok = _verified.get(key)
    if ok is None:
        ok = verify_file(pin, path)
        if len(_verified) > 64:
            _verified.clear()
        _verified[key] = ok
    return ok


def script_tags(
    static_url_for: Callable[[str], str], static_folder: str | os.PathLike[str] | None
) -> list[dict[str, object]]:
    """Return one ``<script>`` description per pinned file, in load order.

    Each entry is ``{"name", "src", "integrity", "crossorigin", "local"}``. When the vendored
    file is present under ``static_folder`` and matches its pin, ``src`` is the local URL from
    ``static_url_for("vendor/<file>")`` and ``crossorigin`` is ``None``; otherwise ``src`` is
    the CDN URL and ``crossorigin`` is ``"anonymous"`` (required for SRI on a cross-origin
    script). ``integrity`` is always set: the browser checks the bytes either way. A CDN entry
    needs :data:`CDN_ORIGIN` in the page's CSP ``script-src``.

    Example (Flask)::

        from flask import url_for
        from notifier import vendor

        @app.context_processor
        def _vendor_scripts():
            return {"vendor_scripts": vendor.script_tags(
                lambda filename: url_for("static", filename=filename), app.static_folder)}

    and in ``templates/base.html``::

        {% for s in vendor_scripts %}
        <script src="{{ s.src }}" integrity="{{ s.integrity }}"
                {%- if s.crossorigin %} crossorigin="{{ s.crossorigin }}"{% endif %}></script>
        {% endfor %}
    """
    tags: list[dict[str, object]] = []
    for pin in PINS:
        local = static_folder is not None and local_file_ok(pin, static_folder)
        tags.append(
            {
                "name": pin.package,
                "src": static_url_for(pin.static_path) if local else pin.cdn_url,
                "integrity": pin.integrity,
                "crossorigin": None if local else "anonymous",
                "local": local,
            }
        )
    return tags
