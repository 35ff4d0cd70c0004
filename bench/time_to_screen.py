"""Measure publish → on-screen latency in a real browser, as the admin dashboard reports it.

Usage::

    python -m bench.time_to_screen --url http://127.0.0.1:5000 --token ADMIN_TOKEN \
        --email admin@example.com --password admin-demo-pass [--count 50] [--gap 0.2]

Against a running server (``flask --app app seed-demo`` gives the accounts). Headless Chromium
(``CHROMIUM``, default /usr/bin/chromium) signs in as ``--email`` (an admin, so the same tab can
read the dashboard), keeps the inbox open, and ``--count`` notifications are published to that
user through the API, ``--gap`` seconds apart; each must appear in the list. Leaving the page
flushes the last acknowledgements; the script then prints the dashboard's p50/p99 (the server's
own clock: publish → the item painted, as the tab acknowledged it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import urllib.request

from playwright.sync_api import sync_playwright


def publish(url: str, token: str, email: str, title: str) -> None:
    """Publish one in-app notification to ``email`` through the API."""
    body = json.dumps({"email": email, "type": "bench", "title": title, "channels": ["in_app"]})
    req = urllib.request.Request(  # noqa: S310 - main() accepts http(s) URLs only
        url + "/api/v1/notifications",
        data=body.encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        if r.status != 201:
            raise SystemExit(f"publish answered {r.status}")


def main() -> None:
    """Run the measurement and print the dashboard's figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--email", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--gap", type=float, default=0.2)
    args = ap.parse_args()
    url = args.url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SystemExit("--url must be http:// or https://")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(20_000)
        page.goto(url + "/login")
        page.get_by_label("Email").fill(args.email)
        page.get_by_label("Password").fill(args.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector('#conn[data-state="live"]')
        run = f"{time.time():.0f}"
        for i in range(args.count):
            title = f"bench {run} #{i}"
            publish(url, args.token, args.email, title)
            page.get_by_role("heading", name=title, exact=True).wait_for()
            time.sleep(args.gap)
        page.goto(url + "/admin")  # pagehide sends the last batch
        deadline = time.monotonic() + 15
        while True:  # the last beacon may land just after the dashboard rendered
            page.locator("#tts-count").wait_for()
            text = page.inner_text("#panels")
            done = re.search(r"Renders\s+(\d+)", text)
            if (done and int(done.group(1)) >= args.count) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
            page.reload()
        browser.close()
    p50 = re.search(r"p50\s+(\d+) ms", text)
    p99 = re.search(r"p99\s+(\d+) ms", text)
    renders = re.search(r"Renders\s+(\d+)", text)
    print(
        f"time to screen over {renders.group(1) if renders else '?'} renders (last 24 h): "
        f"p50 {p50.group(1) if p50 else '?'} ms, p99 {p99.group(1) if p99 else '?'} ms"
    )


if __name__ == "__main__":
    main()
