"""Build hook: ship the top-level templates/, static/, migrations/, translations/ in the package.

The project keeps these folders at the top of the checkout; a wheel must carry them, or an
installed ``notifier`` has no pages, no stylesheets and no migrations. ``build_py`` copies
each into ``notifier/<name>/`` of the build, and ``notifier.create_app`` looks there first
(then in the checkout), so the installed package and the checkout both find their files.
Everything else is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# translations/ carries the compiled .mo catalogs (committed; `make messages` rebuilds them).
DATA_DIRS = ("templates", "static", "migrations", "translations")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".DS_Store", "*.pot")


class BuildWithData(build_py):
    """build_py that also copies the top-level data folders into the package."""

    def run(self) -> None:
        """Build the modules, then copy each data folder (not in editable installs)."""
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install runs from the checkout, which has them already
        here = Path(__file__).resolve().parent
        for name in DATA_DIRS:
            target = Path(self.build_lib) / "notifier" / name
            shutil.copytree(here / name, target, ignore=IGNORE, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithData})
