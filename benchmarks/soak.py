"""Soak test: a real `shoprec serve` under a mixed load for a long time (30 minutes by default), on loopback.

Does memory stay flat and does anything fail once the server has run for a while? The server is started on
127.0.0.1 over bench_serve's synthetic pipeline (cached under --work) with an empty event store, and stopped
at the end whatever happens (error, Ctrl-C, SIGTERM: no server process is left behind). One open-loop client
(benchmarks/loadgen.py: keep-alive, latency from each request's due time) sends rate x duration requests, a
fixed number, mixed as --mix says:

- read         GET /recommendations/{user}?n=10: trained users, new users (a pool of --new-users ids, cold
               start until they send events) and users deleted earlier in the run (cold start again)
- event        POST /events, one view / cart / purchase, of trained, new or deleted users
- event_batch  POST /events/batch of 2-10 such events
- item_put     PUT /items/{id}: updates of catalog items and creation of new ones (a pool of --new-items ids;
               events name them once their creation is answered)
- user_delete  DELETE /users/{id}: trained users (each once before any twice), and new users once their
               events were answered (each at most once)

Expected answers: 200 for reads and deletions, 202 for events, 200 / 201 for item updates / creations. Any
other answer, a failed connection, or a request unanswered when the hard time limit (duration + --grace)
ends the run counts as an error of its type.

Every --sample-every seconds the memory of all server processes is read from /proc (`server_memory`): their
anonymous memory (proportional: pages shared copy-on-write by the forked workers count once), total PSS and
RSS, with the 1-minute load average. Per --interval (a minute) and request type: p50 / p99 and errors.
Memory growth = median anonymous memory over the last --window seconds vs the median over the first --window
seconds after the --warmup; "flat" means growth < 5%.

Appends one JSON line to --out (benchmarks/results/soak.jsonl): the summary, the memory series, the
per-interval table and the provenance.

    python -m benchmarks.soak                                   # 100k x 100k, 200 req/s, 30 minutes
    python -m benchmarks.soak --duration 60 --warmup 20 --window 20 --interval 10 --items 5000 --users 5000
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import uvloop

from benchmarks import loadgen
from benchmarks.bench_serve import (
    build_pipeline,
    free_port,
    server_pids,
    start_server,
    stop_server,
)
from benchmarks.provenance import provenance

RESULTS = Path(__file__).parent / "results" / "soak.jsonl"
ADMIN_KEY = "soak-admin-key-0123456789"
KINDS = ("read", "event", "event_batch", "item_put", "user_delete")
EXPECTED = {"read": {200}, "event": {202}, "event_batch": {202}, "item_put": {200, 201}, "user_delete": {200}}
DEFAULT_MIX = (0.80, 0.10, 0.04, 0.05, 0.01)
EVENTS, EVENT_P = ("view", "cart", "purchase"), (0.8, 0.15, 0.05)
CATEGORIES = 20
FLAT_PCT = 5.0
UNANSWERED = -1


@dataclass
class Mix:
    """Makes request i when it is due (users and items depend on earlier answers) and records its answer."""

    kinds: np.ndarray
    items: int
    users: int
    new_users: int
    new_items: int
    seed: int
    status: np.ndarray = field(init=False)
    ms: np.ndarray = field(init=False)
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    events_answered: int = 0
    deletable: dict[str, None] = field(default_factory=dict)  # new users with an answered event, not yet deleted
    _gone: set[str] = field(default_factory=set)  # new users deleted once (never deleted again: 404 otherwise)
    _pending: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.status = np.full(len(self.kinds), UNANSWERED, np.int16)
        self.ms = np.full(len(self.kinds), np.nan, np.float32)
        self._to_delete = itertools.cycle(self.rng.permutation(self.users).tolist())  # a trained user stays known

    def request(self, i: int) -> loadgen.Request:
        kind = KINDS[self.kinds[i]]
        if kind == "read":
            return "GET", f"/recommendations/{self._user()}?n=10", b""
        if kind == "event":
            event = self._event()
            self._pending[i] = (event["user"],)
            return "POST", "/events", json.dumps(event).encode()
        if kind == "event_batch":
            events = [self._event() for _ in range(int(self.rng.integers(2, 11)))]
            self._pending[i] = tuple(e["user"] for e in events)
            return "POST", "/events/batch", json.dumps({"events": events}).encode()
        if kind == "item_put":
            create = self.rng.random() < 0.5
            item = f"new-item-{self.rng.integers(self.new_items)}" if create else f"i{self.rng.integers(self.items)}"
            self._pending[i] = (item,)
            return "PUT", f"/items/{item}", json.dumps(self._attributes()).encode()
        user = self._deletion()
        self._pending[i] = (user,)
        return "DELETE", f"/users/{user}", b""

    def done(self, i: int, status: int, ms: float) -> None:
        """Record the answer; a successful write makes its new users deletable / items nameable / users deleted."""
        self.status[i], self.ms[i] = status, ms
        names = self._pending.pop(i, ())
        kind = KINDS[self.kinds[i]]
        if status not in EXPECTED[kind]:
            return
        if kind in ("event", "event_batch"):
            self.events_answered += len(names)
            self.deletable.update((u, None) for u in names if u.startswith("new-") and u not in self._gone)
        elif kind == "item_put" and status == 201:
            self.created.extend(names)
        elif kind == "user_delete":
            self.deleted.extend(names)

    def _user(self) -> str:
        """A trained user (70%), a new one (20%) or one deleted earlier (10%, trained when none yet)."""
        draw = self.rng.random()
        if draw < 0.2:
            return f"new-{self.rng.integers(self.new_users)}"
        if draw < 0.3 and self.deleted:
            return self.deleted[self.rng.integers(len(self.deleted))]
        return f"u{self.rng.integers(self.users)}"

    def _event(self) -> dict[str, str]:
        created = self.created and self.rng.random() < 0.1
        item = self.created[self.rng.integers(len(self.created))] if created else f"i{self.rng.integers(self.items)}"
        return {"user": self._user(), "item": item, "event": EVENTS[self.rng.choice(3, p=EVENT_P)]}

    def _attributes(self) -> dict[str, object]:
        k = int(self.rng.integers(1_000_000))
        return {
            "title": f"soak item {k}",
            "category": f"c{k % CATEGORIES}",
            "brand": f"b{k % 7}",
            "price": round(float(self.rng.uniform(1, 500)), 2),
            "in_stock": bool(k % 5),
        }

    def _deletion(self) -> str:
        """A new user with answered events (half the time, when any) or a trained user never deleted before."""
        if self.deletable and self.rng.random() < 0.5:
            user = next(iter(self.deletable))
            del self.deletable[user]
            self._gone.add(user)
            return user
        return f"u{next(self._to_delete)}"


def server_memory(pid: int) -> dict[str, float | int]:
    """Memory of the server's processes (supervisor and workers) summed, MB, from /proc/<pid>/smaps_rollup.

    `anon_mb`, the growth measure: proportional anonymous + shared-memory pages, i.e. what the server itself
    allocated (heap, arrays), pages shared copy-on-write by the forked workers counted once. Total `pss_mb` and
    `rss_mb` also hold file-backed pages (torch, numpy and other libraries), whose PSS moves whenever other
    programs on the machine map or unmap the same files. What makes `anon_mb` grow: `anonymous_mb` (anonymous
    pages of each process, shared ones in every sharer) grows only with new allocations, while a worker writing
    to a page it still shares with the supervisor (a copy-on-write copy, e.g. a reference count) moves
    `private_dirty_mb` and `anon_mb` but not `anonymous_mb`."""
    totals = dict.fromkeys(("Rss", "Pss", "Pss_Anon", "Pss_Shmem", "Anonymous", "Private_Dirty"), 0)
    pids = server_pids(pid)
    for p in pids:
        for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()[1:]:
            name, _, value = line.partition(":")
            if name in totals:
                totals[name] += int(value.split()[0])
    return {
        "anon_mb": round((totals["Pss_Anon"] + totals["Pss_Shmem"]) / 1024, 1),
        "pss_mb": round(totals["Pss"] / 1024, 1),
        "rss_mb": round(totals["Rss"] / 1024, 1),
        "anonymous_mb": round(totals["Anonymous"] / 1024, 1),
        "private_dirty_mb": round(totals["Private_Dirty"] / 1024, 1),
        "processes": len(pids),
    }


def sample(pid: int, port: int, mix: Mix, start: float) -> dict[str, object]:
    """One row of the series: memory, the users and items the server knows (GET /health; null if it does not
    answer in 5 s), the writes answered so far and the 1-minute load average; what grows shows beside what
    the server holds."""
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5.0).json()
    except (httpx.HTTPError, ValueError):
        health = {}
    return {
        "t_s": round(time.perf_counter() - start, 1),
        **server_memory(pid),
        "users": health.get("users"),
        "items": health.get("items"),
        "events_answered": mix.events_answered,
        "users_deleted": len(mix.deleted),
        "load1": round(os.getloadavg()[0], 2),
    }


async def sample_every(every: float, start: float, take: Callable[[], dict], samples: list[dict]) -> None:
    """Append `take()` every `every` s from `start` until cancelled, in a thread (reading /proc and /health)
    so the client's event loop keeps sending meanwhile."""
    loop = asyncio.get_running_loop()
    tick = 0
    while True:
        delay = start + tick * every - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        samples.append(await loop.run_in_executor(None, take))
        tick += 1


async def drive(args: argparse.Namespace, pid: int, port: int, mix: Mix, samples: list[dict]) -> bool:
    """The load and the sampler; False when the hard time limit cut the load short."""
    start = time.perf_counter()
    take = functools.partial(sample, pid, port, mix, start)
    sampler = asyncio.ensure_future(sample_every(args.sample_every, start, take, samples))
    load = loadgen.run_requests(
        "127.0.0.1",
        port,
        mix.request,
        rate=args.rate,
        requests=len(mix.kinds),
        connections=args.connections,
        headers={"X-API-Key": ADMIN_KEY},
        on_done=mix.done,
    )
    try:
        await asyncio.wait_for(load, timeout=args.duration + args.grace)
        finished = True
    except asyncio.TimeoutError:
        finished = False
    finally:
        sampler.cancel()
    samples.append(take())
    return finished


def interval_table(mix: Mix, rate: float, interval: float) -> list[dict]:
    """Per interval of due times and request type: requests, p50 / p99 ms of the answered ones, errors."""
    bucket = (np.arange(len(mix.kinds)) / rate // interval).astype(np.int64)
    rows = []
    for b in range(int(bucket.max()) + 1):
        row: dict[str, object] = {"t0_s": b * interval}
        in_bucket = bucket == b
        for name, mask in [("all", in_bucket), *((k, in_bucket & (mix.kinds == j)) for j, k in enumerate(KINDS))]:
            row[name] = _latency_stats(mix, mask)
        rows.append(row)
    return rows


def _latency_stats(mix: Mix, mask: np.ndarray) -> dict[str, float | int | None]:
    answered = mask & (mix.status > 0)
    ms = mix.ms[answered]
    return {
        "requests": int(mask.sum()),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
        "errors": int((mask & ~_expected(mix)).sum()),
    }


def _expected(mix: Mix) -> np.ndarray:
    """Whether each request got an answer its type expects."""
    ok = np.zeros(len(mix.kinds), bool)
    for j, kind in enumerate(KINDS):
        ok |= (mix.kinds == j) & np.isin(mix.status, list(EXPECTED[kind]))
    return ok


def memory_growth(samples: list[dict], key: str, warmup: float, window: float, duration: float) -> dict[str, float]:
    """Median of `key` over the last `window` s vs over the first `window` s after `warmup`, in %."""
    t = np.array([s["t_s"] for s in samples])
    values = np.array([s[key] for s in samples])
    first = values[(t >= warmup) & (t < warmup + window)]
    last = values[t >= duration - window]
    if not len(first) or not len(last):
        raise ValueError(f"no memory samples after the warm-up ({warmup} s) or in the last {window} s")
    base, end = float(np.median(first)), float(np.median(last))
    return {"after_warmup_mb": round(base, 1), "last_mb": round(end, 1), "growth_pct": round((end / base - 1) * 100, 2)}


def summarise(
    args: argparse.Namespace, mix: Mix, samples: list[dict], finished: bool, startup_s: float, origin: dict
) -> dict:
    """The result row: settings, memory growth (PSS and RSS), per-type counts / errors / worst p99, the series."""
    intervals = interval_table(mix, args.rate, args.interval)
    ok = _expected(mix)
    errors, statuses = {}, {}
    for j, kind in enumerate(KINDS):
        of_kind = mix.kinds == j
        errors[kind] = int((of_kind & ~ok).sum())
        codes, counts = np.unique(mix.status[of_kind], return_counts=True)
        statuses[kind] = {str(c): int(n) for c, n in zip(codes.tolist(), counts.tolist(), strict=True)}
    anon = memory_growth(samples, "anon_mb", args.warmup, args.window, args.duration)
    pss = memory_growth(samples, "pss_mb", args.warmup, args.window, args.duration)
    rss = memory_growth(samples, "rss_mb", args.warmup, args.window, args.duration)
    allocated = memory_growth(samples, "anonymous_mb", args.warmup, args.window, args.duration)
    copied = memory_growth(samples, "private_dirty_mb", args.warmup, args.window, args.duration)
    p99s = [row["all"]["p99_ms"] for row in intervals if row["all"]["p99_ms"] is not None]
    answered = mix.status > 0
    return {
        "duration_s": args.duration,
        "rate": args.rate,
        "items": args.items,
        "users": args.users,
        "dim": args.dim,
        "workers": args.workers,
        "connections": args.connections,
        "mix": dict(zip(KINDS, args.mix, strict=True)),
        "new_users_pool": args.new_users,
        "new_items_pool": args.new_items,
        "warmup_s": args.warmup,
        "window_s": args.window,
        "interval_s": args.interval,
        "startup_s": round(startup_s, 1),
        "requests": len(mix.kinds),
        "answered": int(answered.sum()),
        "finished_in_time": finished,
        "p50_ms": round(float(np.percentile(mix.ms[answered], 50)), 2),
        "p99_ms": round(float(np.percentile(mix.ms[answered], 99)), 2),
        "max_p99_ms_per_interval": max(p99s),
        "requests_by_type": {k: int((mix.kinds == j).sum()) for j, k in enumerate(KINDS)},
        "errors_by_type": errors,
        "errors": sum(errors.values()),
        "statuses_by_type": statuses,
        "items_created": len(set(mix.created)),
        "users_deleted": len(mix.deleted),
        "anon_start_mb": samples[0]["anon_mb"],
        "anon_after_warmup_mb": anon["after_warmup_mb"],
        "anon_last_mb": anon["last_mb"],
        "memory_growth_pct": anon["growth_pct"],
        "pss_after_warmup_mb": pss["after_warmup_mb"],
        "pss_growth_pct": pss["growth_pct"],
        "rss_growth_pct": rss["growth_pct"],
        "anonymous_growth_mb": round(allocated["last_mb"] - allocated["after_warmup_mb"], 1),
        "private_dirty_growth_mb": round(copied["last_mb"] - copied["after_warmup_mb"], 1),
        "memory_flat": anon["growth_pct"] < FLAT_PCT,
        "load1_max": round(max(s["load1"] for s in samples), 2),
        "machine": "2-core VM shared with other work (load1 per sample in `memory`)",
        "memory": samples,
        "intervals": intervals,
        "provenance": origin,
    }


def soak(args: argparse.Namespace) -> dict:
    """Build or reuse the pipeline, start the server on an empty store, drive it, stop it; the result row."""
    args.work = args.work / f"{args.items}x{args.users}x{args.dim}"
    args.index = {}
    toml = build_pipeline(args)
    for suffix in ("", "-wal", "-shm"):
        (args.work / f"events.sqlite{suffix}").unlink(missing_ok=True)
    requests = max(1, round(args.rate * args.duration))
    kinds = np.random.default_rng(args.seed).choice(len(KINDS), requests, p=np.asarray(args.mix) / sum(args.mix))
    mix = Mix(kinds, args.items, args.users, args.new_users, args.new_items, args.seed + 1)
    origin = provenance(seed=args.seed, threads=1, device="cpu")  # the code and load as the run starts
    port = free_port()
    proc, startup_s = start_server(toml, port, args.startup_timeout, args.workers, {"SHOPREC_API_KEY_ADMIN": ADMIN_KEY})
    pids = server_pids(proc.pid)
    try:
        print(f"server pids {pids}, port {port}: {requests:,} requests over {args.duration:.0f} s", flush=True)
        samples: list[dict] = []
        gc.freeze()  # everything built so far stays out of the collections during the run
        finished = uvloop.run(drive(args, proc.pid, port, mix, samples))
    finally:
        stop_server(proc)
    row = summarise(args, mix, samples, finished, startup_s, origin)
    return {**row, "server_pids": pids, "leftover_processes": [p for p in pids if Path(f"/proc/{p}").exists()]}


def markdown(row: dict) -> str:
    """The summary and the per-interval p99 of each type, for the terminal and the docs."""
    lines = [
        f"**soak: {row['duration_s'] / 60:.0f} min at {row['rate']:.0f} req/s, {row['items']:,} items x "
        f"{row['users']:,} users, {row['workers']} workers**",
        "",
        f"- requests {row['requests']:,}, answered {row['answered']:,}, errors {row['errors']} {row['errors_by_type']}",
        f"- anonymous memory (PSS) at start / after warm-up / last {row['anon_start_mb']:,.0f} / "
        f"{row['anon_after_warmup_mb']:,.0f} / {row['anon_last_mb']:,.0f} MB: growth {row['memory_growth_pct']:+.2f}% "
        f"(all PSS {row['pss_growth_pct']:+.2f}%, RSS {row['rss_growth_pct']:+.2f}%); new anonymous pages "
        f"{row['anonymous_growth_mb']:+,.1f} MB, private dirty (incl. copy-on-write copies) "
        f"{row['private_dirty_growth_mb']:+,.1f} MB",
        f"- p50 / p99 {row['p50_ms']:.2f} / {row['p99_ms']:.2f} ms, worst p99 per interval "
        f"{row['max_p99_ms_per_interval']:.2f} ms; load average max {row['load1_max']}",
        "",
        "| t (s) | " + " | ".join(f"{k} p50 / p99 ms (errors)" for k in ("all", *KINDS)) + " |",
        "|---" * (len(KINDS) + 2) + "|",
    ]
    for r in row["intervals"]:
        cells = [f"{_ms(r[k]['p50_ms'])} / {_ms(r[k]['p99_ms'])} ({r[k]['errors']})" for k in ("all", *KINDS)]
        lines.append(f"| {r['t0_s']:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds of load (default 30 minutes)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, all types (open loop)")
    parser.add_argument("--items", type=int, default=100_000, help="catalog size")
    parser.add_argument("--users", type=int, default=100_000, help="trained users")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (shoprec serve --workers)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections of the client")
    parser.add_argument("--mix", type=float, nargs=5, default=list(DEFAULT_MIX), metavar="W", help=" ".join(KINDS))
    parser.add_argument("--new-users", type=int, default=5_000, help="ids of new users the load draws from")
    parser.add_argument("--new-items", type=int, default=500, help="ids of new items PUT may create")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds left out of the memory baseline")
    parser.add_argument("--window", type=float, default=300.0, help="seconds each memory median covers")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds per latency / error row")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds between memory samples")
    parser.add_argument("--grace", type=float, default=120.0, help="hard limit = duration + grace seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.cache/soak"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON lines file the result row is appended to")
    args = parser.parse_args(argv)
    positive = ("duration", "rate", "items", "users", "workers", "connections", "new_users", "new_items")
    for name in (*positive, "window", "interval", "sample_every"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    if min(args.mix) < 0 or sum(args.mix) <= 0:
        parser.error(f"--mix weights must be >= 0 with a positive sum, got {args.mix}")
    if args.warmup < 0 or args.warmup + args.window > args.duration:
        parser.error(f"--warmup + --window ({args.warmup} + {args.window} s) must fit in --duration {args.duration} s")
    if args.sample_every > args.window:
        parser.error(f"--sample-every ({args.sample_every} s) must not exceed --window ({args.window} s)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # stop the server on the way out
    try:
        row = soak(args)
    except KeyboardInterrupt:
        sys.exit("soak: interrupted (the server was stopped; no result written)")
    except (OSError, RuntimeError, ValueError) as exc:  # the server failed to start or stopped answering
        sys.exit(f"soak: {exc} (the server was stopped; no result written)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(markdown(row), flush=True)
    if row["errors"] or not row["memory_flat"] or not row["finished_in_time"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
