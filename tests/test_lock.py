"""The lock files pin, with hashes, every dependency pyproject.toml names (README, Dependencies)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins(name: str) -> dict[str, tuple[str, int]]:
    """Return {package: (version, number of hashes)} of a pip-compile lock file."""
    out: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match[1])
            out[current] = (match[2], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, count = out[current]
            out[current] = (version, count + 1)
        elif not line.startswith((" ", "#")) and line.strip():
            current = None
    return out


def declared(*extras: str) -> list[Requirement]:
    """Return the requirements pyproject.toml declares, with those of ``extras``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(n) for n in names]


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.txt", ()), ("requirements-test.txt", ("test",))]
)
def test_every_declared_dependency_is_pinned_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    locked = pins(lock)
    problems = []
    for req in declared(*extras):
        name = canonicalize_name(req.name)
        if name not in locked:
            problems.append(f"{req.name} is not in {lock}")
        elif not req.specifier.contains(locked[name][0], prereleases=True):
            problems.append(f"{req.name}=={locked[name][0]} does not satisfy {req}")
    assert not problems, "; ".join(problems) + " (run `make lock`)"


def test_every_pin_has_hashes_and_both_locks_agree() -> None:
    runtime, test = pins("requirements.txt"), pins("requirements-test.txt")
    assert all(count for _, count in [*runtime.values(), *test.values()])
    # The test lock is compiled against the runtime one: `make run` gets the tested versions.
    assert {n: v for n, (v, _) in runtime.items()} == {n: test[n][0] for n in runtime if n in test}
    assert set(runtime) <= set(test)
