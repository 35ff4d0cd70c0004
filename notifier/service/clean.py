"""Hostile-input checks shared by the API, the pages and the CLI: strings, decimals, ids, times.

Everything here answers "can this value be stored and read back by every database we run on",
so that a bad value is refused at the door (4xx) instead of failing later in a query (5xx) or,
worse, in a worker that then stalls on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, SmallInteger
from sqlalchemy.orm import InstrumentedAttribute

from notifier.extensions import db

MAX_JSON_DEPTH = 64
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
INT16_MAX = 2**15 - 1
# Stored times must survive the round trip through every zone offset and every database.
MIN_YEAR, MAX_YEAR = 1970, 9999
NUL_MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must not contain lone surrogates (invalid Unicode)"


def bad_chars(value: str) -> str | None:
    """Return why ``value`` cannot be stored (NUL or a lone surrogate), None when it can.

    PostgreSQL refuses NUL in text and no driver can encode a lone surrogate to UTF-8, so
    either would fail only when the row is written, possibly by a background worker.
    """
    if "\x00" in value:
        return NUL_MESSAGE
    if not value.isascii():  # isascii is O(1); only non-ASCII text can hold a surrogate
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


class TooDeep(Exception):
    """A JSON document nests arrays or objects deeper than MAX_JSON_DEPTH."""


def _children(value: dict[str, Any] | list[Any]) -> Iterator[tuple[Any, Any]]:
    return iter(value.items()) if isinstance(value, dict) else enumerate(value)


def _has_bad_string(doc: Any, max_depth: int) -> bool:
    """Return True when any string or key in ``doc`` is unstorable; raise TooDeep.

    The fast pass: no paths are built, and numbers are skipped without being stacked.
    """
    if isinstance(doc, str):
        return bad_chars(doc) is not None
    if not isinstance(doc, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            raise TooDeep(f"JSON nested deeper than {max_depth} levels")
        for key, item in _children(container):
            if type(key) is str and bad_chars(key):
                return True
            if type(item) is str:
                if bad_chars(item):
                    return True
            elif isinstance(item, dict | list):
                stack.append((item, depth + 1))
    return False


def _locate(value: Any, path: str) -> tuple[str, str] | None:
    """Return (path, reason) of the first unstorable string (only run once one is known)."""
    if isinstance(value, str):
        reason = bad_chars(value)
        return (path or "body", reason) if reason else None
    if not isinstance(value, dict | list):
        return None
    for key, item in _children(value):
        if isinstance(key, str) and (reason := bad_chars(key)):
            return path or "body", f"a key {reason}"
        # Fields are named as the rest of the API names them: dotted keys, no list indices.
        child = (f"{path}.{key}" if path else str(key)) if isinstance(value, dict) else path
        found = _locate(item, child)
        if found:
            return found
    return None


def find_bad_string(doc: Any, max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """Walk a parsed JSON document; return (path, reason) of the first unstorable string.

    Keys count as strings too. Paths read like ``title``, ``tags``, ``types.comment``.
    Raise TooDeep when containers nest deeper than ``max_depth``. The walk is iterative, so
    hostile nesting cannot exhaust the stack; the recursive path search runs only on a
    document already known to be at most ``max_depth`` deep.
    """
    if not _has_bad_string(doc, max_depth):
        return None
    return _locate(doc, "")


def parse_decimal(raw: str) -> int | None:
    """Return the int an ASCII decimal string spells, None for anything else.

    ``str.isdigit`` alone accepts "³" and "①", which ``int`` then refuses with an error.
    """
    if raw.isascii() and raw.isdigit() and len(raw) <= 20:
        return int(raw)
    return None


def id_max(column: InstrumentedAttribute[Any] | None = None) -> int:
    """Return the largest value ``column`` (an integer id column) holds on the current database.

    SQLite integers are always 64-bit; elsewhere the column type decides (Integer is 32-bit
    on PostgreSQL). Without a column, the narrowest common id type (Integer) is assumed.
    """
    dialect = db.engine.dialect
    if dialect.name == "sqlite":
        return INT64_MAX
    if column is None:
        return INT32_MAX
    impl = column.type.dialect_impl(dialect)
    if isinstance(impl, BigInteger):
        return INT64_MAX
    if isinstance(impl, SmallInteger):
        return INT16_MAX
    return INT32_MAX


def is_id(value: Any, column: InstrumentedAttribute[Any] | None = None) -> bool:
    """Return True for a positive integer (not a bool) that ``column`` can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= id_max(column)


def storable_time(dt: datetime) -> bool:
    """Return True when a (naive UTC) time lies within the years every part can handle."""
    return MIN_YEAR <= dt.year <= MAX_YEAR
