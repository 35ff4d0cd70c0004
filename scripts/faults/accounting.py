"""Turn what the load recorded into one table row per fault (pure functions, no I/O).

Everything is a plain dataclass with ``time.monotonic()`` stamps, so the smoke test can feed
recorded data in and check the arithmetic without starting a server.

Definitions (docs/operations.md, "Faults, measured", repeats them):

* **sent**: POSTs whose first attempt was sent inside the phase (a retry keeps its key).
* **5xx**: POSTs answered >= 500 (nginx's 502/504 included) at least once, retries included
  (the notes give the number of such answers); connection errors without an answer are
  counted apart (``conn err`` in the notes).
* **lost**: POSTs answered 201 whose notification did not reach *every* stream of the
  recipient by the end of the run (after the settle period).
* **dup**: an event id a client received twice (across reconnects), plus notifications stored
  more than once for one Idempotency-Key; **ooo**: an id lower than one the client already had.
* **cut**: a stream that ended while the harness was reading it; *twice* counts clients cut
  more than once inside one step of the fault (one instance's restart), *abrupt* the cuts
  without the chunked terminator (a reset or a killed upstream).
* **held**: no loss, duplicate, reordering, stream cut twice in a step, or POST left without
  its 201; no 5xx except where the fault kills requests in flight (a, e); only clean cuts on
  a restart (d); and the fault's own checks (notes name a failed one).
* **recovery**: seconds from the end of the fault (Redis back, the restart command returned,
  the last host up again) until the last failed attempt, the last stream back, and the arrival
  of everything sent during the fault, whichever is last (0 when all that came before).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, astuple, dataclass, field
from typing import Any

RETRYABLE = {0, 409, 429, 500, 502, 503, 504}


@dataclass
class Attempt:
    """One HTTP attempt of a POST: when it was answered and the status (0: no answer)."""

    t: float
    status: int
    code: str = ""


@dataclass
class Post:
    """One logical POST (its retries share the Idempotency-Key)."""

    key: str
    title: str
    user: str
    sent_at: float
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def created(self) -> bool:
        """True when some attempt answered 201."""
        return any(a.status == 201 for a in self.attempts)


@dataclass
class Receipt:
    """A logged event as one client saw it."""

    client: int
    cursor: int
    title: str | None
    t: float


@dataclass
class Cut:
    """A stream that ended under the client; clean when the chunked terminator arrived."""

    client: int
    t: float
    clean: bool


@dataclass
class Connect:
    """A stream (re)opened: status 200 or the refusal (0 when the connect itself failed)."""

    client: int
    t: float
    status: int


@dataclass
class Phase:
    """One fault: its window [start, end), the injection [t0, t1] and its restart steps."""

    name: str
    label: str
    start: float
    end: float
    t0: float
    t1: float
    steps: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    # A 5xx fails the row unless the fault kills requests in flight by design (a, e).
    no_5xx: bool = True
    # Restarts must end streams with the chunked terminator, not a reset (d).
    clean_cuts: bool = False


@dataclass
class Row:
    """The table row of one phase."""

    name: str
    label: str
    sent: int
    fivexx: int
    lost: int
    dup: int
    ooo: int
    cuts: int
    twice: int
    abrupt: int
    recovery: float | None
    held: bool
    notes: list[str]


def deliveries(receipts: list[Receipt]) -> dict[tuple[int, str], float]:
    """Return the first arrival time of each (client, title)."""
    first: dict[tuple[int, str], float] = {}
    for r in receipts:
        if r.title is not None and (r.client, r.title) not in first:
            first[(r.client, r.title)] = r.t
    return first


def dup_and_ooo(receipts: list[Receipt]) -> tuple[list[Receipt], list[Receipt]]:
    """Return the receipts that repeat an id for their client, and those that went backwards."""
    seen: dict[int, set[int]] = defaultdict(set)
    top: dict[int, int] = {}
    dups: list[Receipt] = []
    ooo: list[Receipt] = []
    for r in sorted(receipts, key=lambda x: x.t):
        if r.cursor in seen[r.client]:
            dups.append(r)
        elif r.cursor < top.get(r.client, -1):
            ooo.append(r)
        seen[r.client].add(r.cursor)
        top[r.client] = max(top.get(r.client, -1), r.cursor)
    return dups, ooo


def lost_posts(
    posts: list[Post], clients: dict[int, str], arrived: dict[tuple[int, str], float]
) -> list[Post]:
    """Return the 201 POSTs that some stream of the recipient never received."""
    by_user: dict[str, list[int]] = defaultdict(list)
    for cid, user in clients.items():
        by_user[user].append(cid)
    return [
        p
        for p in posts
        if p.created and any((cid, p.title) not in arrived for cid in by_user[p.user])
    ]


def cut_counts(cuts: list[Cut], phase: Phase) -> tuple[int, int, int]:
    """Return (cuts, clients cut more than once in one step, abrupt cuts) inside ``phase``."""
    inside = [c for c in cuts if phase.start <= c.t < phase.end]
    bounds = sorted({phase.start, *phase.steps}) + [phase.end]
    twice = 0
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        per: dict[int, int] = defaultdict(int)
        for c in inside:
            if lo <= c.t < hi:
                per[c.client] += 1
        twice += sum(1 for n in per.values() if n > 1)
    return len(inside), twice, sum(1 for c in inside if not c.clean)


def recovery(
    phase: Phase,
    posts: list[Post],
    connects: list[Connect],
    cuts: list[Cut],
    clients: dict[int, str],
    arrived: dict[tuple[int, str], float],
) -> float | None:
    """Return seconds from the fault's end until all was well again; None if it never was."""
    marks = [phase.t1]
    for p in posts:
        marks += [a.t for a in p.attempts if a.status != 201]
    if any(phase.start <= c.t < phase.end for c in cuts):
        marks += [c.t for c in connects if c.status == 200 and phase.t0 <= c.t < phase.end]
    by_user: dict[str, list[int]] = defaultdict(list)
    for cid, user in clients.items():
        by_user[user].append(cid)
    for p in posts:
        if not p.created or not (phase.t0 <= p.sent_at <= phase.t1):
            continue
        for cid in by_user[p.user]:
            t = arrived.get((cid, p.title))
            if t is None:
                return None
            marks.append(t)
    return max(marks) - phase.t1


def row_for(
    phase: Phase,
    posts: list[Post],
    receipts: list[Receipt],
    cuts: list[Cut],
    connects: list[Connect],
    clients: dict[int, str],
    stored_twice: int = 0,
) -> Row:
    """Compute the row of ``phase`` from the whole run's records."""
    mine = [p for p in posts if phase.start <= p.sent_at < phase.end]
    arrived = deliveries(receipts)
    dups, ooo = dup_and_ooo(receipts)
    dup = sum(1 for r in dups if phase.start <= r.t < phase.end) + stored_twice
    backwards = sum(1 for r in ooo if phase.start <= r.t < phase.end)
    fivexx = sum(1 for p in mine if any(a.status >= 500 for a in p.attempts))
    answers5xx = sum(1 for p in mine for a in p.attempts if a.status >= 500)
    noanswer = sum(1 for p in mine for a in p.attempts if a.status == 0)
    lost = lost_posts(mine, clients, arrived)
    ncuts, twice, abrupt = cut_counts(cuts, phase)
    unresolved = [p for p in mine if not p.created]
    notes = list(phase.notes)
    if answers5xx > fivexx:
        notes.append(f"{answers5xx} 5xx answers counting retries")
    if noanswer:
        notes.append(f"conn err {noanswer}")
    if unresolved:
        finals = sorted({p.attempts[-1].status for p in unresolved if p.attempts})
        notes.append(f"{len(unresolved)} never got 201 (last answer {finals})")
    refused = sum(1 for c in connects if c.status != 200 and phase.start <= c.t < phase.end)
    if refused:
        notes.append(f"stream (re)connects refused {refused}")
    rec = recovery(phase, mine, connects, cuts, clients, arrived)
    if phase.no_5xx and fivexx:
        notes.append("FAILED: no 5xx")
    if phase.clean_cuts and abrupt:
        notes.append("FAILED: clean cuts only")
    notes += [f"FAILED: {name}" for name, ok in phase.checks.items() if not ok]
    held = (
        not (phase.no_5xx and fivexx)
        and not (phase.clean_cuts and abrupt)
        and not lost
        and dup == 0
        and backwards == 0
        and not unresolved
        and twice == 0
        and all(phase.checks.values())
    )
    return Row(
        name=phase.name,
        label=phase.label,
        sent=len(mine),
        fivexx=fivexx,
        lost=len(lost),
        dup=dup,
        ooo=backwards,
        cuts=ncuts,
        twice=twice,
        abrupt=abrupt,
        recovery=rec,
        held=held,
        notes=notes,
    )


@dataclass
class Recording:
    """Everything a run recorded; enough to recompute its table (``--replay``)."""

    phases: list[Phase]
    posts: list[Post]
    receipts: list[Receipt]
    cuts: list[Cut]
    connects: list[Connect]
    clients: dict[int, str]
    stored_twice: dict[str, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[Row]:
        """Return one row per phase."""
        out = []
        for ph in self.phases:
            mine = {p.title for p in self.posts if ph.start <= p.sent_at < ph.end}
            extra = sum(n - 1 for t, n in self.stored_twice.items() if t in mine)
            out.append(
                row_for(
                    ph, self.posts, self.receipts, self.cuts, self.connects, self.clients, extra
                )
            )
        return out

    def dump(self) -> dict[str, Any]:
        """Return the recording as JSON-ready data."""
        return {
            "phases": [asdict(x) for x in self.phases],
            "posts": [asdict(x) for x in self.posts],
            "receipts": [astuple(x) for x in self.receipts],
            "cuts": [astuple(x) for x in self.cuts],
            "connects": [astuple(x) for x in self.connects],
            "clients": {str(k): v for k, v in self.clients.items()},
            "stored_twice": self.stored_twice,
            "meta": self.meta,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Recording:
        """Rebuild a recording from :meth:`dump`'s data."""
        posts = []
        for p in data["posts"]:
            attempts = [Attempt(**a) for a in p.pop("attempts")]
            posts.append(Post(**p, attempts=attempts))
        for x in data["phases"]:  # recordings made before these flags existed
            x.setdefault("no_5xx", x["name"] not in ("a", "e"))
            x.setdefault("clean_cuts", x["name"] in ("d1", "d2"))
        return cls(
            phases=[Phase(**x) for x in data["phases"]],
            posts=posts,
            receipts=[Receipt(*x) for x in data["receipts"]],
            cuts=[Cut(*x) for x in data["cuts"]],
            connects=[Connect(*x) for x in data["connects"]],
            clients={int(k): v for k, v in data["clients"].items()},
            stored_twice=dict(data.get("stored_twice", {})),
            meta=dict(data.get("meta", {})),
        )
