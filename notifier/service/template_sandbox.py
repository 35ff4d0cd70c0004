"""The Jinja sandbox notification templates run in: strict, path-naming, bounded.

``ImmutableSandboxedEnvironment`` (no attribute tricks, no mutation of the variables) with a
strict ``Undefined`` whose error is the dotted path of what is missing (``data.order.id``:
every dict and list handed in is labelled by :func:`scoped`), and limits on what a template
can make the renderer allocate: ``range()``, repetition, powers, format widths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateRuntimeError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

MAX_RANGE = 1000  # range() in a template: enough for any list a notification shows
MAX_REPEAT = 10_000  # "x" * n and 2 ** n beyond this are refused


class MissingVariable(UndefinedError):
    """A variable the template uses is not there; ``str(exc)`` is its dotted path."""


class _Strict(StrictUndefined):
    """StrictUndefined whose error names the full path of the missing variable."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        super().__init__(hint, obj, name, MissingVariable if exc is UndefinedError else exc)

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        if self._undefined_obj is missing:
            return str(self._undefined_name)
        parent = getattr(self._undefined_obj, "_path", None)
        if parent is None:  # a value of a builtin type (a string's missing method…)
            return f"{type(self._undefined_obj).__name__}.{self._undefined_name}"
        return f"{parent}.{self._undefined_name}"


class _Scope(dict[str, Any]):
    """A dict that knows its path from the root (``data.order``), for the error message.

    The slot starts with "_", so the sandbox never lets a template read it.
    """

    __slots__ = ("_path",)
    _path: str


class _ScopeList(list[Any]):
    __slots__ = ("_path",)
    _path: str


def scoped(value: Any, path: str) -> Any:
    """Return ``value`` with every dict and list inside it labelled with its path."""
    out: _Scope | _ScopeList
    if isinstance(value, Mapping):
        out = _Scope((str(k), scoped(v, f"{path}.{k}")) for k, v in value.items())
    elif isinstance(value, list):
        out = _ScopeList(scoped(v, f"{path}.{i}") for i, v in enumerate(value))
    else:
        return value
    out._path = path
    return out


# A width or precision of 5+ digits (or "*") in a %-format or a {}-format spec.
_HUGE_FORMAT = re.compile(
    r"%[-+ #0]*(?:\d{5,}|\*)|%[-+ #0]*\d*\.(?:\d{5,}|\*)|\{[^{}]*:[^{}]*\d{5,}"
)
WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate")


def _check_format(fmt: Any) -> None:
    if isinstance(fmt, str) and _HUGE_FORMAT.search(fmt):
        raise SecurityError("format width too large in a template")


def _bounded(name: str, fn: Any) -> Any:
    """Wrap a filter so that no numeric argument (a width) exceeds MAX_REPEAT."""

    def run(value: Any, *args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_REPEAT:
                raise SecurityError(f"{name}() width too large in a template")
        if name == "format":
            _check_format(value)
        return fn(value, *args, **kwargs)

    return run


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items in a template")
    return r


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with repetition and powers bounded (a template cannot eat RAM)."""

    intercepted_binops = frozenset(["*", "**", "%"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse ``"x" * 10**9`` and ``9 ** 9 ** 9`` before computing them."""
        if operator == "%":
            _check_format(left)
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large in a template")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > MAX_REPEAT:
                    raise SecurityError("repetition too large in a template")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Refuse "{:>999999}".format(x) (str.format reaches here wrapped by the sandbox)."""
        wrapped = getattr(__obj, "__wrapped__", None)
        _check_format(getattr(wrapped, "__self__", None))
        return super().call(__context, __obj, *args, **kwargs)


def _env(autoescape: bool) -> _Sandbox:
    env = _Sandbox(autoescape=autoescape, undefined=_Strict)
    env.globals["range"] = _bounded_range
    del env.globals["lipsum"]  # lipsum(n=10**6) would be megabytes of filler
    for name in (*WIDTH_FILTERS, "format"):
        env.filters[name] = _bounded(name, env.filters[name])
    return env


TEXT_ENV = _env(autoescape=False)
HTML_ENV = _env(autoescape=True)


def env_for(field_name: str) -> _Sandbox:
    """Return the environment of a field: autoescaping for html only."""
    return HTML_ENV if field_name == "html" else TEXT_ENV
