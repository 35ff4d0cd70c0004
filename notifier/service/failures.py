"""Say why a queued item could not be processed, in text any database and page can hold.

The reason is written next to the item that failed and shown to admins, so it must survive
the very thing that made the item fail: a lone surrogate or a NUL in the item's own text
would otherwise make recording the failure fail too.
"""

from __future__ import annotations

from sqlalchemy.exc import StatementError

from notifier.service.errors import ServiceError

MAX_REASON = 500


def printable(text: object) -> str:
    """Return ``text`` as a string with lone surrogates and NUL escaped (``\\ud800``, ``\\x00``).

    Both are refused by PostgreSQL and by a UTF-8 response body; everything else is unchanged.
    """
    cleaned = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return cleaned.replace("\x00", "\\x00")


def describe(exc: BaseException, limit: int = MAX_REASON) -> str:
    """Return one storable line naming the exception: ``"DataError: PostgreSQL text fields…"``.

    SQLAlchemy's wrapper carries the SQL and its parameters; the driver's error underneath
    says the same thing in one line, so that is the one kept.
    """
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, ServiceError) and exc.fields:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    else:
        detail = str(exc)
    first = detail.strip().splitlines()[0] if detail.strip() else ""
    text = printable(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    return text if len(text) <= limit else text[: limit - 3] + "..."
