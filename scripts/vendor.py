#!/usr/bin/env python3
"""Fetch the pinned htmx files from the npm registry into static/vendor/, checksum-checked.

Usage: python scripts/vendor.py [--dest DIR] [--from-dir DIR] [--check] [--force] [--print-pins]

The pins (package, version, file, sha256, SRI) live in notifier/vendor.py; this script loads that
module by path, so it needs only the standard library (no venv, no Flask). For each pin it
downloads ``<registry>/<pkg>/-/<pkg>-<version>.tgz`` with urllib, falling back to ``npm pack``
when urllib cannot reach the registry (npm knows the local proxy and registry settings). The
file is taken out of the tarball, checked against its sha256, written to a temporary file in the
destination and renamed into place, so a reader never sees a partial or unverified file.

``--from-dir DIR`` takes ``<pkg>-<version>.tgz`` files from DIR instead of the network (for
machines without access to the registry). ``--check`` only verifies what is on disk.

Exit status: 0 all files present and verified; 1 a checksum mismatch or another hard error (the
bad file is removed); 3 the registry could not be reached (no network, no npm): pages then fall
back to the CDN copy, see notifier/vendor.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXIT_MISMATCH = 1
EXIT_UNREACHABLE = 3
TIMEOUT = 30  # seconds per HTTP request
MAX_TARBALL = 20 * 1024 * 1024  # npm tarballs of these packages are well under 1 MB


def load_pins_module():
    """Load notifier/vendor.py by file path, without importing the notifier package."""
    path = ROOT / "notifier" / "vendor.py"
    spec = importlib.util.spec_from_file_location("_notifier_vendor_pins", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while building classes
    spec.loader.exec_module(module)
    return module


pins = load_pins_module()


class VendorError(Exception):
    """Report a problem that makes vendoring fail; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_MISMATCH):
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    """Print one progress line to stderr."""
    print(f"vendor: {message}", file=sys.stderr)


def tarball_name(pin) -> str:
    """Return the file name npm gives the package tarball (``npm pack`` output)."""
    return f"{pin.package.lstrip('@').replace('/', '-')}-{pin.version}.tgz"


def fetch_with_urllib(pin) -> bytes:
    """Download the tarball over HTTPS from the npm registry."""
    url = pin.tarball_url()
    if not url.startswith(("https://", "http://")):
        raise VendorError(f"refusing registry URL {url!r}")
    # The scheme is checked above, so S310's file:// concern does not apply.
    request = urllib.request.Request(url, headers={"User-Agent": "notifier-vendor/1"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        data = response.read(MAX_TARBALL + 1)
    if len(data) > MAX_TARBALL:
        raise VendorError(f"{url}: tarball larger than {MAX_TARBALL} bytes")
    return data


def fetch_with_npm(pin) -> bytes:
    """Download the tarball with ``npm pack`` into a temporary directory."""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed")
    with tempfile.TemporaryDirectory(prefix="notifier-npm-") as tmp:
        proc = subprocess.run(
            [npm, "pack", f"{pin.package}@{pin.version}", "--pack-destination", tmp],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("npm error")]
            reason = " | ".join(lines[:2]) or proc.stderr.strip()[-300:]
            raise OSError(f"npm pack failed ({proc.returncode}): {reason}")
        tgz = Path(tmp) / tarball_name(pin)
        if not tgz.is_file():
            found = sorted(p.name for p in Path(tmp).glob("*.tgz"))
            raise OSError(f"npm pack wrote {found}, expected {tgz.name}")
        return tgz.read_bytes()


def fetch_tarball(pin, from_dir: Path | None) -> bytes:
    """Return the package tarball from ``from_dir``, the registry, or ``npm pack``."""
    if from_dir is not None:
        path = from_dir / tarball_name(pin)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise VendorError(f"cannot read {path}: {exc}") from exc
    errors = []
    try:
        return fetch_with_urllib(pin)
    except (OSError, urllib.error.URLError) as exc:  # HTTPError, timeouts, DNS, TLS
        errors.append(f"urllib: {exc}")
    log(f"direct download of {pin.package}@{pin.version} failed, trying npm pack")
    try:
        return fetch_with_npm(pin)
    except (OSError, subprocess.SubprocessError) as exc:
        errors.append(f"npm: {exc}")
    raise VendorError(
        f"cannot fetch {pin.package}@{pin.version} from the npm registry "
        f"({'; '.join(errors)}). Pages fall back to the CDN copy with SRI.",
        code=EXIT_UNREACHABLE,
    )


def extract_member(pin, tarball: bytes) -> bytes:
    """Return the pinned file's bytes from an npm tarball (files live under ``package/``)."""
    name = f"package/{pin.member}"
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
            member = tar.getmember(name)
            if not member.isfile():
                raise VendorError(f"{pin.package}@{pin.version}: {name} is not a regular file")
            fh = tar.extractfile(member)
            return fh.read()
    except KeyError as exc:
        raise VendorError(f"{pin.package}@{pin.version}: tarball has no {name}") from exc
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise VendorError(f"{pin.package}@{pin.version}: unreadable tarball: {exc}") from exc


def write_verified(pin, data: bytes, dest: Path) -> None:
    """Write ``data`` to ``dest/<file>`` atomically, only if it matches the pin."""
    target = dest / pin.filename
    dest.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{pin.filename}.", suffix=".part", dir=dest)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if not pins.verify_file(pin, tmp_name):
            raise VendorError(
                f"CHECKSUM MISMATCH for {pin.package}@{pin.version} {pin.member}: "
                f"got sha256 {pins.sha256_hex(data)}, pinned {pin.sha256}. "
                f"Nothing was installed; {target} is left absent so pages use the CDN copy."
            )
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def vendor_one(pin, dest: Path, from_dir: Path | None, force: bool) -> str:
    """Make ``dest/<file>`` hold the pinned bytes; return what was done."""
    target = dest / pin.filename
    if not force and pins.verify_file(pin, target):
        return "up to date"
    if target.exists() and not force:
        log(f"{target} does not match its pin; replacing it")
        target.unlink()
    data = extract_member(pin, fetch_tarball(pin, from_dir))
    try:
        write_verified(pin, data, dest)
    except VendorError:
        target.unlink(missing_ok=True)
        raise
    return "installed"


def check_only(dest: Path) -> int:
    """Verify the files on disk without fetching; return the exit status."""
    status = 0
    for pin in pins.PINS:
        target = dest / pin.filename
        if pins.verify_file(pin, target):
            log(f"{target}: ok ({pin.package}@{pin.version})")
        else:
            log(f"{target}: {'MISMATCH' if target.exists() else 'missing'}")
            status = EXIT_MISMATCH
    return status


def print_pins(from_dir: Path | None) -> int:
    """Print the real hashes of the pinned versions' files (for updating notifier/vendor.py)."""
    for pin in pins.PINS:
        data = extract_member(pin, fetch_tarball(pin, from_dir))
        print(f"{pin.package}@{pin.version} {pin.member} ({len(data)} bytes)")
        print(f"    sha256={pins.sha256_hex(data)!r},")
        print(f"    integrity={pins.sri_sha384(data)!r},")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=ROOT / "static" / pins.VENDOR_DIR)
    parser.add_argument("--from-dir", type=Path, help="read <pkg>-<version>.tgz files from here")
    parser.add_argument("--check", action="store_true", help="verify only, fetch nothing")
    parser.add_argument("--force", action="store_true", help="fetch even if files verify")
    parser.add_argument("--print-pins", action="store_true", help="print hashes of the files")
    args = parser.parse_args(argv)
    try:
        if args.print_pins:
            return print_pins(args.from_dir)
        if args.check:
            return check_only(args.dest)
        for pin in pins.PINS:
            done = vendor_one(pin, args.dest, args.from_dir, args.force)
            log(f"{pin.package}@{pin.version} -> {args.dest / pin.filename}: {done}")
    except VendorError as exc:
        log(f"error: {exc}")
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
