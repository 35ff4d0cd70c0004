"""What a proxy self-test found: the verdicts, the advice for each finding, the plain report.

The probe that fills a :class:`Result` is notifier/selftest.py; the CLI prints
:meth:`Result.lines` and the admin page renders the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIX_BUFFERING = [
    "nginx: in the stream location set `proxy_buffering off;` (the app also sends "
    "`X-Accel-Buffering: no`, which nginx honours unless `proxy_ignore_headers` drops it); "
    "no `gzip` on text/event-stream.",
    "Caddy: `reverse_proxy` streams text/event-stream by itself; if a directive in front "
    "buffers (encode, a plugin), set `flush_interval -1` in the reverse_proxy block.",
    "Cloudflare and other CDNs: do not cache or transform the stream path (a Cache Rule "
    "'bypass', no compression/Rocket Loader on it), or serve the stream from a DNS-only "
    "(unproxied) host name; check that your plan supports streamed responses.",
    "Apache mod_proxy: `SetEnv proxy-sendchunked 1` and no mod_deflate on the stream.",
]
FIX_IDLE = [
    "nginx: `proxy_read_timeout` above NOTIFIER_PING_INTERVAL (the documented config uses "
    "1h); also `proxy_send_timeout`.",
    "Caddy: no read timeout applies to proxied responses by default; check `transport http "
    "{ read_timeout … }` if set.",
    "Cloudflare: a proxied response idle for 100 s is cut (524) on most plans; keep "
    "NOTIFIER_PING_INTERVAL well below it. AWS ALB: idle timeout 60 s by default.",
    "Or lower NOTIFIER_PING_INTERVAL below the cut-off (e.g. 25 → 15).",
]


@dataclass
class Result:
    """What the self-test saw; ``problems`` empty means the path is fit for streaming."""

    url: str
    ping_interval: float
    idle_bound: float
    status: int | None = None
    headers_s: float | None = None  # request sent → status line and headers
    first_event_s: float | None = None  # request sent → first SSE event (`connected`)
    event_delay_s: float | None = None  # publish → the test notification on the stream
    buffered: bool | None = None
    idle_cutoff_s: float | None = None  # silence before the path closed the stream
    held_s: float = 0.0  # how long the stream was held open in all
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Return the findings that need a fix (empty when all is well)."""
        out = []
        if self.error:
            out.append(self.error)
        if self.buffered:
            out.append("events are buffered between the app and the client")
        if self.idle_cutoff_s is not None and self.ping_interval >= self.idle_cutoff_s:
            out.append(
                f"NOTIFIER_PING_INTERVAL ({self.ping_interval:g} s) is not below the idle "
                f"cut-off ({self.idle_cutoff_s:.1f} s): every quiet stream will be cut"
            )
        elif self.idle_cutoff_s is not None:
            out.append(f"the path cuts a stream idle for {self.idle_cutoff_s:.1f} s")
        return out

    @property
    def fixes(self) -> list[str]:
        """Return the configuration advice for the problems found."""
        out: list[str] = []
        if self.buffered:
            out += FIX_BUFFERING
        if self.idle_cutoff_s is not None:
            out += FIX_IDLE
        return out

    def idle_text(self) -> str:
        """Describe the idle cut-off finding."""
        if self.idle_cutoff_s is not None:
            return f"{self.idle_cutoff_s:.1f} s of silence"
        if self.headers_s is None or self.held_s <= 0:
            return "not measured (the stream did not open)"
        return f"none within {self.held_s:.0f} s held (pings every {self.ping_interval:g} s)"

    def lines(self) -> list[str]:
        """Return a plain-text report, one finding per line."""

        def secs(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.0f} ms" if v < 10 else f"{v:.1f} s"

        out = [
            f"self-test of {self.url}",
            f"  HTTP status:          {self.status if self.status is not None else '-'}",
            f"  time to first byte:   {secs(self.headers_s)} (headers), "
            f"{secs(self.first_event_s)} (first event)",
            f"  test event delay:     {secs(self.event_delay_s)}",
            f"  buffered:             "
            f"{'unknown' if self.buffered is None else 'yes' if self.buffered else 'no'}",
            f"  idle cut-off:         {self.idle_text()}",
        ]
        out += [f"  note: {n}" for n in self.notes]
        problems = self.problems
        out.append("result: OK" if not problems else "result: PROBLEMS")
        out += [f"  problem: {p}" for p in problems]
        out += [f"  fix: {f}" for f in self.fixes]
        return out
