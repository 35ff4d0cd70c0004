"""Read htmx request headers and set htmx response headers (the only module that does)."""

from __future__ import annotations

from flask import Response, request


def is_htmx() -> bool:
    """Tell whether the request was made by htmx (an HX-Request header)."""
    return request.headers.get("HX-Request") == "true"


def target() -> str:
    """Return the id of the element htmx will swap into, or an empty string."""
    return request.headers.get("HX-Target", "") if is_htmx() else ""


def wants(target_id: str) -> bool:
    """Tell whether this is an htmx request aimed at the element with ``target_id``."""
    return target() == target_id


def trigger(resp: Response, event: str) -> Response:
    """Ask htmx to fire ``event`` on the body once the response is handled (HX-Trigger)."""
    existing = resp.headers.get("HX-Trigger")
    resp.headers["HX-Trigger"] = f"{existing}, {event}" if existing else event
    return resp


def vary(resp: Response) -> Response:
    """Mark a response that differs for htmx, so caches never mix a fragment with a page."""
    resp.vary.add("HX-Request")
    resp.vary.add("HX-Target")
    return resp
