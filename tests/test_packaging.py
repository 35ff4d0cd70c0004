"""The built wheel works on its own: installed elsewhere, it finds pages, files, migrations, .mo.

Slow (a wheel build and an install, ~10-20 s) but never skipped: a wheel without templates/,
static/ or migrations/ installs fine and fails only when someone runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
PACKAGE_DIRS = ("notifier", "templates", "static", "migrations", "translations")

pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; fail with its output when it exits non-zero."""
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_the_installed_wheel_inits_its_database_and_renders_pages(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ or egg-info and nothing else leaks in.
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        shutil.copy2(ROOT / name, src / name)
    for name in PACKAGE_DIRS:
        shutil.copytree(
            ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    dist, site, work = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    pip = (sys.executable, "-m", "pip")
    run(
        *pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), cwd=src
    )
    (wheel,) = dist.glob("notifier-*.whl")
    run(*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel), cwd=work)

    # The current environment's dependencies, this package only from the install target.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "REDIS_"))},
        "PYTHONPATH": str(site),
        "DATABASE_URL": f"sqlite:///{work / 'installed.sqlite'}",
        "SECRET_KEY": "packaging-test",
        "NOTIFIER_TESTING_FAST_HASH": "1",
    }
    flask = (sys.executable, "-m", "flask", "--app", "notifier:create_app")
    assert "database ready" in run(*flask, "init-db", cwd=work, env=env)
    run(*flask, "create-user", "ops@example.com", "--password", "pw-123456789", cwd=work, env=env)
    probe = textwrap.dedent(
        """
        import notifier
        from notifier import create_app

        app = create_app()
        client = app.test_client()
        login = client.get("/login")
        css = client.get("/static/css/app.css")
        print(notifier.__file__)
        print(app.template_folder)
        print(app.static_folder)
        print(app.extensions["migrate"].directory)
        print(login.status_code, css.status_code, b'name="password"' in login.data)
        german = client.get("/login", headers={"Accept-Language": "de"})
        print(app.config["BABEL_TRANSLATION_DIRECTORIES"])
        print(german.status_code, 'lang="de"' in german.text, ">Anmelden</h1>" in german.text)
        """
    )
    lines = run(sys.executable, "-c", probe, cwd=work, env=env).splitlines()
    module, templates, static, migrations, answers, catalogs, german = lines[-7:]
    installed = site / "notifier"
    assert Path(module).parent == installed  # not the checkout's notifier/
    assert Path(templates) == installed / "templates"
    assert Path(static) == installed / "static"
    assert Path(migrations) == installed / "migrations"
    assert answers == "200 200 True"
    assert Path(catalogs) == installed / "translations"  # the compiled .mo came along
    assert german == "200 True True"
