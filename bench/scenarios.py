"""Run the scenarios against one system: hold, targeted, broadcast, resume storm.

Every figure comes from the same client and the same run: server CPU from /proc of every
server process, PSS for memory, latencies from the client's send and arrival clocks, and lost
and duplicated deliveries counted by sequence number and cursor. Every wait is bounded: a
delivery that has not arrived by its deadline counts as lost and the run goes on.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
import time
from dataclasses import dataclass, field

from bench.client import Arrivals, Http, Stream, open_streams, wait_for
from bench.procstat import Meter, cpu_delta
from bench.systems import System

HOST = "127.0.0.1"


@dataclass
class Plan:
    """How much of each scenario to run (the defaults are `make bench`'s)."""

    sizes: list[int] = field(default_factory=lambda: [1000, 5000, 4000])
    posters: int = 8
    paced_n: int = 1000
    paced_rate: float = 250.0
    sustained_n: int = 1000
    broadcasts_small: int = 5
    broadcasts_big: int = 3
    missed: int = 5
    full: bool = True  # False: tenant 0 only: its streams, targeted and broadcast, no hold
    wait: float = 60.0


def quantile(values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank) of ``values``, or NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Run:
    """State of one system's run: its client streams, posters, meter and counters."""

    def __init__(self, system: System, plan: Plan) -> None:
        self.system, self.plan = system, plan
        self.meter = Meter(system.roots)
        self.arrivals = Arrivals()
        self.seq = itertools.count(1)
        self.http = [Http(HOST, system.port) for _ in range(plan.posters)]
        self.streams: list[Stream] = []
        self.expected = 0
        self.failed_posts = 0
        self.failed_streams = 0
        self.out: dict[str, float] = {}

    async def post(self, k: int, tenant: dict, user_id: int | None) -> int:
        """Post one notification through poster ``k``; return its sequence number."""
        s = next(self.seq)
        path, body, headers = self.system.publish(tenant, user_id, s)
        self.arrivals.sent[s] = time.perf_counter()
        status = await self.http[k].request("POST", path, body, headers)
        if status != 201:
            self.failed_posts += 1
            print(f"POST {path} answered {status}", file=sys.stderr)
        return s

    async def open(self, tenant: dict, users: list, lasts: list[int] | None = None) -> list[Stream]:
        """Open one stream per user (resuming from ``lasts`` when given)."""
        lasts = lasts or [0] * len(users)
        reqs = [
            (self.system.stream_request(tenant, u, last), last)
            for u, last in zip(users, lasts, strict=True)
        ]
        opened = await open_streams(
            HOST, self.system.port, reqs, self.arrivals, self.system.parallel_connects
        )
        self.failed_streams += len(reqs) - len(opened)
        self.streams += opened
        return opened

    async def settle(self, seqs: list[int], per_seq: int) -> None:
        """Wait until every delivery of ``seqs`` arrived (bounded) and count what should have."""
        self.expected += per_seq * len(seqs)
        want = per_seq * len(seqs)
        await wait_for(lambda: self.arrivals.count(seqs) >= want, self.plan.wait)

    async def targeted(self, tenant: dict, n: int, rate: float | None) -> tuple[list[int], float]:
        """Post ``n`` notifications to random users of ``tenant``, paced or closed-loop."""
        ids = [u[0] for u in tenant["users"]]
        rng = random.Random(n)
        targets = [rng.choice(ids) for _ in range(n)]
        seqs: list[int] = []
        start = time.perf_counter()

        async def poster(k: int) -> None:
            for i in range(k, n, self.plan.posters):
                if rate:
                    await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                seqs.append(await self.post(k, tenant, targets[i]))

        await asyncio.gather(*(poster(k) for k in range(self.plan.posters)))
        await self.settle(seqs, 1)
        last = max((t for s in seqs for t in self.arrivals.got.get(s, ())), default=start)
        return seqs, last - start

    async def broadcasts(self, tenant: dict, n: int, streams: int) -> tuple[list[float], float]:
        """Broadcast ``n`` times, one after another; return delivery latencies and CPU s."""
        lat: list[float] = []
        cpu0 = self.meter.cpu()
        for _ in range(n):
            s = await self.post(0, tenant, None)
            await self.settle([s], streams)
            lat += self.arrivals.latencies([s])
        return lat, cpu_delta(cpu0, self.meter.cpu())

    async def warm_up(self, tenant: dict) -> None:
        """Open one stream and send it a few events: imports, templates and caches are hot."""
        (probe,) = await self.open(tenant, tenant["users"][:1])
        seqs = [await self.post(0, tenant, tenant["users"][0][0]) for _ in range(20)]
        await self.settle(seqs, 1)
        probe.close()
        self.streams.remove(probe)
        self.expected -= len(seqs)
        for s in seqs:
            self.arrivals.got.pop(s, None)

    async def execute(self) -> dict[str, float]:
        """Run every scenario of the plan and return the figures."""
        plan, out = self.plan, self.out
        a = self.system.tenants[0]
        await self.warm_up(a)
        pss0 = self.meter.pss()
        cpu0 = self.meter.cpu()
        streams_a = await self.open(a, a["users"])
        out["cpu_per_stream_us"] = cpu_delta(cpu0, self.meter.cpu()) / len(streams_a) * 1e6
        if plan.full:
            seqs, _ = await self.targeted(a, plan.paced_n, plan.paced_rate)
            lat = self.arrivals.latencies(seqs)
            out["paced_p50_ms"] = quantile(lat, 0.5) * 1e3
            out["paced_p99_ms"] = quantile(lat, 0.99) * 1e3
        cpu0 = self.meter.cpu()
        seqs, elapsed = await self.targeted(a, plan.sustained_n, None)
        out["cpu_per_targeted_us"] = cpu_delta(cpu0, self.meter.cpu()) / len(seqs) * 1e6
        out["sustained_per_s"] = len(seqs) / elapsed
        lat, cpu = await self.broadcasts(a, plan.broadcasts_small, len(streams_a))
        out["bcast_small_p50_ms"] = quantile(lat, 0.5) * 1e3
        out["bcast_small_p99_ms"] = quantile(lat, 0.99) * 1e3
        out["cpu_per_delivery_us"] = cpu / max(len(lat), 1) * 1e6
        if plan.full:
            await self.hold_and_resume(pss0)
        out["lost"] = max(0, self.expected - sum(len(v) for v in self.arrivals.got.values()))
        out["duplicated"] = sum(s.dups for s in self.streams)
        out["failed_posts"] = self.failed_posts
        out["failed_streams"] = self.failed_streams
        for stream in self.streams:
            stream.close()
        for http in self.http:
            http.close()
        return out

    async def hold_and_resume(self, pss0: int) -> None:
        """Hold every stream, broadcast to tenant 1, then its resume storm."""
        plan, out = self.plan, self.out
        b = self.system.tenants[1]
        streams_b = await self.open(b, b["users"])
        for other in self.system.tenants[2:]:
            await self.open(other, other["users"])
        held = len(self.streams)
        out["streams_held"] = held
        out["kib_per_stream"] = (self.meter.pss() - pss0) / held
        lat, cpu = await self.broadcasts(b, plan.broadcasts_big, len(streams_b))
        out["bcast_big_p50_ms"] = quantile(lat, 0.5) * 1e3
        out["bcast_big_p99_ms"] = quantile(lat, 0.99) * 1e3
        out["cpu_per_delivery_big_us"] = cpu / max(len(lat), 1) * 1e6
        out["resume_s"] = await self.resume_storm(b, streams_b)

    async def resume_storm(self, b: dict, streams_b: list[Stream]) -> float:
        """Drop tenant 1's streams, broadcast ``missed`` times, reconnect all at once."""
        lasts = [s.last for s in streams_b]
        for s in streams_b:
            s.close()
        seqs = [await self.post(0, b, None) for _ in range(self.plan.missed)]
        start = time.perf_counter()
        back = await self.open(b, b["users"], lasts)
        want = self.plan.missed * len(back)
        self.expected += want
        await wait_for(lambda: sum(s.received for s in back) >= want, self.plan.wait)
        done = time.perf_counter() - start
        # The old streams were closed before these were sent: arrivals here are the new ones.
        assert all(len(self.arrivals.got.get(s, ())) <= len(back) for s in seqs)
        return done


def run(system: System, plan: Plan) -> dict[str, float]:
    """Start ``system``, run the plan, stop it; return the figures."""
    system.start()
    try:
        return asyncio.run(Run(system, plan).execute())
    finally:
        system.stop()
