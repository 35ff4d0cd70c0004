"""Imports point down: the layers under the pages and the API never import them.

Walks notifier/ with ``ast`` (every import, also those inside functions, which a runtime
check would miss, and module names written as strings for ``importlib``) and fails naming
the module and the import that crosses a layer.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

DOTTED = re.compile(r"notifier(\.\w+)+")
PACKAGE = Path(__file__).resolve().parent.parent / "notifier"
LOWER = ("notifier.stream", "notifier.bus", "notifier.service", "notifier.channels")
UPPER = ("notifier.web", "notifier.api")
#: The bus is transport only: no Flask, no database, no templates.
BUS_FORBIDDEN = (
    "flask",
    "flask_sqlalchemy",
    "sqlalchemy",
    "jinja2",
    "notifier.extensions",
    "notifier.models",
    "notifier.service",
    "notifier.web",
    "notifier.api",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line, imported module) for every import in ``path``, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from notifier import web` imports notifier.web
                yield node.lineno, f"{base}.{alias.name}"
        # A module name in a string is an import waiting for importlib.import_module().
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOTTED.fullmatch(node.value)
        ):
            yield node.lineno, node.value


def under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def crossings(forbidden_for: dict[tuple[str, ...], tuple[str, ...]]) -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        for owners, forbidden in forbidden_for.items():
            if not under(name, owners):
                continue
            for line, target in imports(path):
                if under(target, forbidden):
                    out.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    return sorted(set(out))


def test_lower_layers_never_import_the_web_or_the_api() -> None:
    assert crossings({LOWER: UPPER}) == []


def test_the_bus_imports_no_flask_database_or_templates() -> None:
    assert crossings({("notifier.bus",): BUS_FORBIDDEN}) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import notifier.web.fragments\n", "notifier.web.fragments"),
        ("from notifier.web import fragments\n", "notifier.web.fragments"),
        ("from ..api import errors\n", "notifier.api.errors"),
        ("def f():\n    from notifier.api.stream import refusal\n", "notifier.api.stream"),
        ('NAME = "notifier.web.fragments"\n', "notifier.web.fragments"),
    ],
)
def test_the_walker_sees_every_form_of_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    # A stand-in package tree, so the check itself is checked without editing notifier/.
    pkg = tmp_path / "notifier" / "stream"
    pkg.mkdir(parents=True)
    (tmp_path / "notifier" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "bad.py").write_text(source)
    monkeypatch.setitem(globals(), "PACKAGE", tmp_path / "notifier")
    assert any(expected in c for c in crossings({LOWER: UPPER}))


def import_cycles(packages: tuple[str, ...]) -> list[list[str]]:
    """Return the import cycles among the modules of ``packages`` (parent packages aside)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if not under(name, packages):
            continue
        graph[name] = set()
        for _, target in imports(path):
            while target and target not in modules:  # `from pkg.mod import name` -> pkg.mod
                target = target.rpartition(".")[0]
            if target != name and under(target, packages) and not name.startswith(target + "."):
                graph[name].add(target)
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_service_and_the_channels_import_without_cycles() -> None:
    # schedule.py and notify.py once imported each other (a re-export with noqa: E402).
    assert import_cycles(("notifier.service", "notifier.channels")) == []
