"""HTTP to user-supplied URLs (webhooks, Web Push endpoints) without server-side request forgery.

The host is resolved once; every address it resolves to must be public (not loopback, private,
link-local, multicast, reserved or unspecified) unless the caller allows private ones
(``NOTIFIER_WEBHOOK_ALLOW_PRIVATE``, for development); and the connection goes to that checked
address, so a DNS answer cannot change between check and use (rebinding). TLS still verifies
the certificate for the host name. Redirects are never followed: the caller sees the 3xx.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlsplit

from notifier.channels.base import PermanentError, TransientError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_READ = 4096  # Enough of an answer for an error message; the rest is never needed.


class Reply(NamedTuple):
    """What the far end answered: status, reason phrase, headers and the start of the body."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes


def is_public(ip: IPAddress) -> bool:
    """Return True when an address is globally routable, the only kind a user URL may reach."""
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that embed IPv4 would otherwise smuggle 127.0.0.1 past the v6 checks.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public(embedded):
            return False
    blocked = (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    # is_global also rules out shared (100.64/10) and documentation ranges.
    return not blocked and ip.is_global


def split_url(url: str) -> tuple[SplitResult, int]:
    """Return the parsed URL and its port, raising ValueError with a user-facing reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("only http and https URLs are allowed")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not supported; use the signing secret")
    port = parts.port  # Raises ValueError for a malformed or out-of-range port.
    return parts, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int, allow_private: bool) -> list[IPAddress]:
    """Resolve a host and return its addresses, raising ValueError if any is not public.

    Raises socket.gaierror when the name does not resolve (a transient condition at send
    time, a validation error at registration time).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not allow_private:
        # Every answer must pass: a name with one private record is a rebinding attempt.
        for ip in addresses:
            if not is_public(ip):
                raise ValueError(f"{host} resolves to a non-public address ({ip})")
    return addresses


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_private: bool,
    timeout: float,
    what: str = "URL",
) -> Reply:
    """POST to a checked URL over a connection to the checked address; never follows redirects.

    Raises PermanentError ("refused <what>: …") for a URL that may not be contacted and
    TransientError for DNS and network failures.
    """
    try:
        parts, port = split_url(url)
        host = str(parts.hostname)
        addresses = resolve(host, port, allow_private)
    except ValueError as exc:
        raise PermanentError(f"refused {what}: {exc}") from exc
    except socket.gaierror as exc:  # DNS hiccups pass; a name that never resolves dies later.
        raise TransientError(f"cannot resolve {host}: {exc}") from exc

    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    pinned = str(addresses[0])

    def connect_pinned(
        address: tuple[str, int], timeout: Any = None, source: Any = None
    ) -> socket.socket:
        # Connect to the address we checked; TLS still verifies the certificate for `host`.
        return socket.create_connection((pinned, address[1]), timeout, source)

    conn._create_connection = connect_pinned  # type: ignore[attr-defined]
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        response = conn.getresponse()
        # Read a little so the server sees a clean close; the rest is ignored.
        return Reply(response.status, response.reason, response.headers, response.read(MAX_READ))
    except (OSError, http.client.HTTPException) as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
