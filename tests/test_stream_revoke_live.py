"""Logout and token revocation close open streams on real servers (CONTRACT §8).

A browser-like client signs in through the real form (CSRF on), opens the page stream with
its cookie, and signs out; an integrator opens the JSON stream with a stream token and
revokes the API token that minted it. Each stream must end within 5 s and a reconnect must
be refused. The Redis variant runs two `python app.py` processes on one database and one
redis-server: the credential dies on one process and the stream held by the other ends.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.cookiejar import CookieJar

from tests.fixtures_live import LiveServer, http_json
from tests.sse_client import SSEClient, bearer, token_for

ALICE = "alice@example.com"
PASSWORD = "alice-demo-pass"  # seed-demo's password for alice
CLOSE_WITHIN = 5.0  # CONTRACT §8
Factory = Callable[..., LiveServer]
USER_AGENT = "revoke-live-test"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # show the 302 itself


class Browser:
    """Cookies and CSRF tokens over urllib, redirects not followed."""

    def __init__(self) -> None:
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        # Session protection ("strong") ties the session to the client's address and agent.
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def request(self, url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=data), timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def csrf(self, url: str) -> str:
        status, html = self.request(url)
        assert status == 200, status
        match = CSRF.search(html)
        assert match is not None
        return match.group(1)

    def sign_in(self, base: str, email: str = ALICE) -> None:
        token = self.csrf(base + "/login")
        form = {"csrf_token": token, "email": email, "password": PASSWORD}
        status, _ = self.request(base + "/login", form)
        assert status == 302
        assert self.request(base + "/")[0] == 200

    def sign_out(self, base: str) -> None:
        token = self.csrf(base + "/")
        assert self.request(base + "/logout", {"csrf_token": token})[0] == 302

    def cookie_header(self) -> dict[str, str]:
        """Return the headers this browser's EventSource would send."""
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        return {"Cookie": cookies, "User-Agent": USER_AGENT}


def opened(*clients: SSEClient) -> None:
    for client in clients:
        assert client.status == 200 and client.wait_event("stats", timeout=15) is not None


def closes_in_time(client: SSEClient, since: float, label: str) -> None:
    """Wait for the end of the response, at most 5 s after ``since`` (the fatal request)."""
    left = CLOSE_WITHIN - (time.monotonic() - since)
    assert client.wait_for(lambda c: c.eof, timeout=left), f"{label}: still open after 5 s"
    print(f"{label}: closed {(time.monotonic() - since) * 1000:.0f} ms after the request began")


def stream_token(base: str, api_token: str) -> str:
    status, body = http_json("POST", base + "/api/v1/stream-token", headers=bearer(api_token))
    assert status == 200
    return str(body["token"])


def token_id(base: str, api_token: str) -> int:
    status, body = http_json("GET", base + "/api/v1/tokens", headers=bearer(api_token))
    assert status == 200
    prefix = api_token[:12]
    return next(int(t["id"]) for t in body["items"] if t["prefix"] == prefix)


def check_logout(login_on: LiveServer, stream_on: LiveServer) -> None:
    browser, other = Browser(), Browser()
    browser.sign_in(login_on.url)
    other.sign_in(login_on.url)  # alice on a second device: not signed out
    page = SSEClient(stream_on.url, "/stream", headers=browser.cookie_header())
    api = SSEClient(stream_on.url, headers=browser.cookie_header())
    kept = SSEClient(stream_on.url, "/stream", headers=other.cookie_header())
    try:
        opened(page, api, kept)
        since = time.monotonic()
        browser.sign_out(login_on.url)
        closes_in_time(page, since, "page stream, logout")
        closes_in_time(api, since, "JSON stream with the cookie, logout")
        page.reconnect()  # with the copy of the cookie taken before logout
        assert page.status == 302 and "/login" in page.response_headers["location"]
        api.reconnect()
        assert api.status == 401
        kept.read(0.5)
        assert not kept.eof
    finally:
        for client in (page, api, kept):
            client.close()


def check_revocation(revoke_on: LiveServer, stream_on: LiveServer, api_token: str) -> None:
    minted = stream_token(revoke_on.url, api_token)
    path = "/api/v1/notifications/stream?" + urllib.parse.urlencode({"token": minted})
    by_stream_token = SSEClient(stream_on.url, path)
    by_bearer = SSEClient(stream_on.url, headers=bearer(api_token))
    try:
        opened(by_stream_token, by_bearer)
        ident = token_id(revoke_on.url, api_token)
        since = time.monotonic()
        status, _ = http_json(
            "DELETE", f"{revoke_on.url}/api/v1/tokens/{ident}", headers=bearer(api_token)
        )
        assert status == 204
        closes_in_time(by_stream_token, since, "stream-token stream, revocation")
        closes_in_time(by_bearer, since, "bearer stream, revocation")
        by_stream_token.reconnect()
        assert by_stream_token.status == 401
        assert by_stream_token.json_body()["error"]["code"] == "invalid_token"
        by_bearer.reconnect()
        assert by_bearer.status == 401
    finally:
        by_stream_token.close()
        by_bearer.close()


def test_logout_closes_the_page_stream_and_the_cookie_is_refused(
    live_server: LiveServer,
) -> None:
    check_logout(live_server, live_server)


def test_revoking_the_api_token_closes_its_streams_and_refuses_reconnects(
    live_server: LiveServer,
) -> None:
    check_revocation(live_server, live_server, token_for(live_server, ALICE))


def test_across_two_processes_on_redis(live_server_factory: Factory, redis_url: str) -> None:
    first = live_server_factory({"REDIS_URL": redis_url}, seed=True)
    second = live_server_factory({"REDIS_URL": redis_url}, init=False)
    check_logout(first, second)
    check_revocation(first, second, token_for(first, ALICE))
