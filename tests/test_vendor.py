"""Test the htmx vendoring: pins, checksum verification, the fetch script and CDN fallback."""

from __future__ import annotations

import importlib.util
import io
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from notifier import vendor

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "vendor.py"
VENDORED = ROOT / "static" / vendor.VENDOR_DIR


def _load_script():
    spec = importlib.util.spec_from_file_location("_vendor_script_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()


def _real_bytes(pin: vendor.Pin) -> bytes:
    path = VENDORED / pin.filename
    assert path.is_file(), f"{path} is missing: run `make vendor` (make test does) first"
    return path.read_bytes()


def _make_tarball(directory: Path, pin: vendor.Pin, content: bytes) -> Path:
    """Write an npm-style tarball holding ``content`` at the pinned member path."""
    path = directory / script.tarball_name(pin)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"package/{pin.member}")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return path


def _run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _url_for(filename: str) -> str:
    return f"/static/{filename}"


def test_pins_are_exact_and_ordered():
    assert [p.package for p in vendor.PINS] == ["htmx.org", "htmx-ext-sse"]  # htmx loads first
    for pin in vendor.PINS:
        assert pin.version.count(".") == 2 and pin.version.replace(".", "").isdigit()
        assert len(pin.sha256) == 64 and int(pin.sha256, 16) >= 0
        assert pin.integrity.startswith("sha384-")
        assert pin.cdn_url == (f"{vendor.CDN_ORIGIN}/npm/{pin.package}@{pin.version}/{pin.member}")
    assert vendor.PINS[0].version.startswith("2.0.")
    assert vendor.PINS[1].version.startswith("2.")


@pytest.mark.parametrize("pin", vendor.PINS, ids=lambda p: p.filename)
def test_vendored_files_match_pins(pin):
    data = _real_bytes(pin)
    assert vendor.sha256_hex(data) == pin.sha256
    assert vendor.sri_sha384(data) == pin.integrity
    assert vendor.verify_file(pin, VENDORED / pin.filename)


def test_vendored_htmx_is_the_pinned_version():
    htmx = vendor.PINS[0]
    assert f'version:"{htmx.version}"' in _real_bytes(htmx).decode()
    assert "htmx.defineExtension('sse'" in _real_bytes(vendor.PINS[1]).decode()


def test_script_check_mode_passes_on_vendored_files():
    proc = _run_script("--check")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count(": ok (") == len(vendor.PINS)


@pytest.mark.parametrize("pin", vendor.PINS, ids=lambda p: p.filename)
def test_verify_rejects_tampered_file(tmp_path, pin):
    data = _real_bytes(pin)
    good = tmp_path / "good.js"
    good.write_bytes(data)
    assert vendor.verify_file(pin, good)
    flipped = tmp_path / "flipped.js"
    flipped.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    assert not vendor.verify_file(pin, flipped)
    appended = tmp_path / "appended.js"
    appended.write_bytes(data + b"\nalert(1)\n")
    assert not vendor.verify_file(pin, appended)
    assert not vendor.verify_file(pin, tmp_path / "missing.js")
    assert not vendor.verify_bytes(pin, b"")


def test_script_tags_serve_local_files_when_present(tmp_path):
    (tmp_path / vendor.VENDOR_DIR).mkdir()
    for pin in vendor.PINS:
        (tmp_path / pin.static_path).write_bytes(_real_bytes(pin))
    tags = vendor.script_tags(_url_for, tmp_path)
    assert [t["src"] for t in tags] == ["/static/vendor/htmx.min.js", "/static/vendor/sse.js"]
    assert all(t["local"] and t["crossorigin"] is None for t in tags)
    assert [t["integrity"] for t in tags] == [p.integrity for p in vendor.PINS]


def test_script_tags_fall_back_to_cdn_when_absent(tmp_path):
    tags = vendor.script_tags(_url_for, tmp_path)
    assert [t["src"] for t in tags] == [
        "https://cdn.jsdelivr.net/npm/htmx.org@2.0.11/dist/htmx.min.js",
        "https://cdn.jsdelivr.net/npm/htmx-ext-sse@2.2.4/dist/sse.js",
    ]
    for tag, pin in zip(tags, vendor.PINS, strict=True):
        assert tag["integrity"] == pin.integrity
        assert tag["crossorigin"] == "anonymous"
        assert tag["local"] is False
    assert vendor.script_tags(_url_for, None)[0]["src"] == vendor.PINS[0].cdn_url


def test_script_tags_fall_back_when_local_file_is_tampered(tmp_path):
    (tmp_path / vendor.VENDOR_DIR).mkdir()
    htmx, sse = vendor.PINS
    (tmp_path / htmx.static_path).write_bytes(_real_bytes(htmx) + b"//")
    (tmp_path / sse.static_path).write_bytes(_real_bytes(sse))
    tags = vendor.script_tags(_url_for, tmp_path)
    assert tags[0]["src"] == htmx.cdn_url and tags[0]["crossorigin"] == "anonymous"
    assert tags[1]["src"] == "/static/vendor/sse.js"
    # Repaired on disk: the stat-keyed cache must not keep serving the old verdict.
    target = tmp_path / htmx.static_path
    target.write_bytes(_real_bytes(htmx))
    os.utime(target, ns=(1, 1))
    assert vendor.script_tags(_url_for, tmp_path)[0]["src"] == "/static/vendor/htmx.min.js"


def test_script_installs_from_tarballs_and_is_idempotent(tmp_path):
    tarballs, dest = tmp_path / "tgz", tmp_path / "dest"
    tarballs.mkdir()
    for pin in vendor.PINS:
        _make_tarball(tarballs, pin, _real_bytes(pin))
    dest.mkdir()
    (dest / vendor.PINS[1].filename).write_text("stale")  # a wrong file gets replaced

    proc = _run_script("--from-dir", str(tarballs), "--dest", str(dest))
    assert proc.returncode == 0, proc.stderr
    for pin in vendor.PINS:
        assert vendor.verify_file(pin, dest / pin.filename)
    assert sorted(p.name for p in dest.iterdir()) == ["htmx.min.js", "sse.js"]

    before = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    again = _run_script("--from-dir", str(tmp_path / "nowhere"), "--dest", str(dest))
    assert again.returncode == 0, again.stderr  # nothing fetched: the files already verify
    assert again.stderr.count("up to date") == len(vendor.PINS)
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == before


def test_script_rejects_mismatching_tarball_and_leaves_no_file(tmp_path):
    tarballs, dest = tmp_path / "tgz", tmp_path / "dest"
    tarballs.mkdir()
    htmx, sse = vendor.PINS
    _make_tarball(tarballs, htmx, _real_bytes(htmx).replace(b"htmx", b"hTmx", 1))
    _make_tarball(tarballs, sse, _real_bytes(sse))

    proc = _run_script("--from-dir", str(tarballs), "--dest", str(dest))
    assert proc.returncode == script.EXIT_MISMATCH == 1
    assert "CHECKSUM MISMATCH for htmx.org@2.0.11" in proc.stderr
    assert htmx.sha256 in proc.stderr
    assert list(dest.iterdir()) == []  # neither the bad file nor a partial .part file

    check = _run_script("--check", "--dest", str(dest))
    assert check.returncode == 1 and "missing" in check.stderr


def test_script_rejects_tarball_without_the_file(tmp_path):
    htmx, sse = vendor.PINS
    path = tmp_path / script.tarball_name(htmx)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("package/README.md")
        tar.addfile(info, io.BytesIO(b""))
    proc = _run_script("--from-dir", str(tmp_path), "--dest", str(tmp_path / "dest"))
    assert proc.returncode == 1
    assert "tarball has no package/dist/htmx.min.js" in proc.stderr


def test_script_reports_unreachable_registry_with_exit_3(tmp_path):
    with socket.socket() as sock:  # a port that refuses connections: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()  # PATH without npm
    env = {
        "PATH": str(empty_bin),
        "HOME": str(tmp_path),
        "NPM_CONFIG_REGISTRY": f"http://127.0.0.1:{port}",
    }
    dest = tmp_path / "dest"
    proc = _run_script("--dest", str(dest), env=env)
    assert proc.returncode == script.EXIT_UNREACHABLE == 3, proc.stderr
    assert "cannot fetch htmx.org@2.0.11" in proc.stderr
    assert "npm is not installed" in proc.stderr
    assert not dest.exists() or list(dest.iterdir()) == []


def test_tarball_url_follows_registry_setting(monkeypatch):
    monkeypatch.delenv("NPM_CONFIG_REGISTRY", raising=False)
    assert vendor.PINS[0].tarball_url() == (
        "https://registry.npmjs.org/htmx.org/-/htmx.org-2.0.11.tgz"
    )
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "https://npm.example.test/")
    assert vendor.PINS[1].tarball_url() == (
        "https://npm.example.test/htmx-ext-sse/-/htmx-ext-sse-2.2.4.tgz"
    )
