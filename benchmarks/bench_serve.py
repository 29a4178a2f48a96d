"""The serving benchmark: a real `shoprec serve` process at 1,000,000 items x 1,000,000 users, 64 dims.

1. Builds a synthetic retrieval model (an MF artifact) whose item and user vectors are clustered, as trained
   embeddings are (see benchmarks/bench_index.py), with three seen items per user and Zipf popularity, and
   a pipeline for it (cached under --work, rebuilt with --rebuild).
2. Starts `shoprec serve` on 127.0.0.1 in its own process, with a read and a write API key, and waits for
   /health; reports the start-up time and the server's resident memory (VmRSS / peak VmHWM from /proc).
3. Load from a separate process (benchmarks/loadgen.py, open loop, keep-alive, latency from each request's
   due time): GET /recommendations/{user}?n=10 for random users at each of --rates requests/s, sustained
   for --seconds each (rate x seconds requests) after a warm-up; p50 / p99 and the achieved rate (below the
   offered rate when the server saturates, and then latency is queueing time).
   New visitors (ids never seen, so cold-start lists) at --cold-rate requests/s for --seconds.
4. Event -> next recommendation: POST a purchase of the user's current top item, then GET the user's list;
   the time from sending the event to receiving a list without that item (checked), --events times.
5. ANN recall@10 of the served index settings against exact search, for 1,000 user vectors.

Bounded everything: fixed request counts (rate x seconds), loopback only. Prints a Markdown table and appends a
JSON line to benchmarks/results/serve.jsonl per run; with --runs > 1 (default 3) a last table gives the medians.

    python -m benchmarks.bench_serve                    # 1M x 1M, rates 100, 1000 and 1500/s, 10 s each
    python -m benchmarks.bench_serve --items 100000 --users 100000 --seconds 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import scipy.sparse as sp
import torch

from benchmarks.bench_index import clustered_vectors
from benchmarks.results_io import with_provenance
from shoprec.data.vocabulary import Vocabulary
from shoprec.models.mf import MF
from shoprec.runtime import thread_limit
from shoprec.serving.index_arrays import recall_at_k
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.state import build_index

RESULTS = Path(__file__).parent / "results" / "serve.jsonl"
READ_KEY, WRITE_KEY = "bench-read-key-0123456789", "bench-write-key-0123456789"
SEEN_PER_USER = 3


def build_model(n_users: int, n_items: int, dim: int, clusters: int, seed: int) -> MF:
    """An MF model with clustered vectors, set directly (no training): serving only needs its artifact."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    items = clustered_vectors(rng, centres, n_items, noise=1.0)
    users = clustered_vectors(rng, centres, n_users, noise=1.0)
    popularity = np.floor(1e4 / np.arange(1, n_items + 1) ** 0.8).astype(np.float32)
    rng.shuffle(popularity)
    seen_items = rng.integers(0, n_items, (n_users, SEEN_PER_USER))
    indptr = np.arange(0, seen_items.size + 1, SEEN_PER_USER)
    seen = sp.csr_matrix((np.ones(seen_items.size, np.float32), seen_items.reshape(-1), indptr), (n_users, n_items))
    seen.sum_duplicates()
    model = MF(embedding_size=dim, biases=False, sparse=False)
    model.n_users_, model.n_items_ = n_users, n_items
    model.user_vocab_ = Vocabulary(np.char.add("u", np.arange(n_users).astype(str)))
    model.item_vocab_ = Vocabulary(np.char.add("i", np.arange(n_items).astype(str)))
    model.seen_, model.item_popularity_, model.offset_ = seen, popularity, 0.0
    model.module_ = model._module()
    with torch.no_grad():
        model.module_.users.weight.copy_(torch.from_numpy(users))
        model.module_.items.weight.copy_(torch.from_numpy(items))
    model.fitted_ = True
    return model


def build_pipeline(args: argparse.Namespace) -> Path:
    """The model artifact and pipeline.toml under args.work (reused unless --rebuild)."""
    toml = args.work / "pipeline.toml"
    if toml.exists() and not args.rebuild:
        return toml
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    started = time.perf_counter()
    model = build_model(args.users, args.items, args.dim, args.clusters, args.seed)
    model.save(args.work / "model")
    config = PipelineConfig(
        retrieval=(args.work / "model").resolve(), store=(args.work / "events.sqlite").resolve(), index=args.index
    )
    toml.write_text(config.to_toml(args.work.resolve()))
    print(f"built the {args.users:,} x {args.items:,} pipeline in {time.perf_counter() - started:.0f} s", flush=True)
    return toml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    """Memory of the server: its process and its workers (children). `pss` sums their proportional set sizes
    (pages shared copy-on-write by forked workers count once in all), `rss` and `peak` are the largest
    process's resident and peak resident sizes; from /proc (Linux)."""
    pids = server_pids(pid)
    pss = sum(_proc_kb(f"/proc/{p}/smaps_rollup", "Pss") for p in pids)
    return {
        "pss": round(pss / 1024, 1),
        "rss": round(max(_proc_kb(f"/proc/{p}/status", "VmRSS") for p in pids) / 1024, 1),
        "peak": round(max(_proc_kb(f"/proc/{p}/status", "VmHWM") for p in pids) / 1024, 1),
        "processes": len(pids),
    }


def _proc_kb(path: str, field: str) -> int:
    for line in Path(path).read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise KeyError(f"{field} not in {path}")


def start_server(
    toml: Path, port: int, timeout: float, workers: int, keys: dict[str, str] | None = None
) -> tuple[subprocess.Popen, float]:
    """`shoprec serve` on 127.0.0.1:`port` once /health answers, with the read and write keys plus `keys`
    (extra environment, e.g. an admin key); killed if start-up fails or is interrupted (Ctrl-C)."""
    env = {**os.environ, "SHOPREC_API_KEY_READ": READ_KEY, "SHOPREC_API_KEY_WRITE": WRITE_KEY, **(keys or {})}
    command = [sys.executable, "-m", "shoprec", "serve", "--pipeline", str(toml), "--port", str(port)]
    command += ["--workers", str(workers)]
    started = time.perf_counter()
    proc = subprocess.Popen([*command, "--log-level", "warning"], env=env)
    deadline = started + timeout
    try:
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} during start-up")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                    return proc, time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server did not answer /health within {timeout:.0f} s")
    except BaseException:
        stop_server(proc)
        raise


def stop_server(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM (the supervisor stops its workers and waits for them), SIGKILL after `timeout`; then any worker
    still alive (its supervisor killed) is killed too, so no server process outlives the benchmark."""
    workers = server_pids(proc.pid)[1:] if proc.poll() is None else []
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def server_pids(pid: int) -> list[int]:
    """The server process and its workers (children), from /proc (Linux); [] once it has exited."""
    try:
        return [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except FileNotFoundError:
        return []


def run_load(server: int, port: int, users: list[str], rate: float, requests: int, work: Path) -> dict:
    """Open-loop GET /recommendations from a separate process (benchmarks.loadgen), with the CPU time the
    server's processes spent per request meanwhile (pid `server` and its workers)."""
    paths = work / "paths.txt"
    paths.write_text("".join(f"/recommendations/{user}?n=10\n" for user in users))
    command = [sys.executable, "-m", "benchmarks.loadgen", "--port", str(port), "--paths", str(paths)]
    command += ["--rate", str(rate), "--requests", str(requests), "--api-key", READ_KEY]
    before, server_before = cpu_ticks(), server_cpu_seconds(server)
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=requests / rate * 4 + 120)
    cpu_us = (server_cpu_seconds(server) - server_before) / requests * 1e6
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {**result, "server_cpu_us_per_request": round(cpu_us), "steal_pct": steal_pct(before, cpu_ticks())}


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server process and its workers, from /proc (Linux)."""
    pids = server_pids(pid)
    ticks = sum(sum(map(int, Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[11:13])) for p in pids)
    return ticks / os.sysconf("SC_CLK_TCK")


def known_users(rng: np.random.Generator, n_users: int, count: int) -> list[str]:
    """`count` random ids of trained users (personal lists)."""
    return [f"u{u}" for u in rng.integers(0, n_users, count).tolist()]


def cpu_ticks() -> np.ndarray:
    """The machine's CPU time counters from /proc/stat (user, nice, system, idle, iowait, irq, softirq, steal)."""
    return np.array(Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9], dtype=np.int64)


def steal_pct(before: np.ndarray, after: np.ndarray) -> float:
    """Share of CPU time the hypervisor gave to other guests meanwhile: on a shared host, latency tails grow
    with it whatever the server does (the same run swung from p99 5 ms to 40 ms with it)."""
    spent = after - before
    return round(float(spent[7] * 100.0 / max(spent.sum(), 1)), 1)


def event_to_recommendation(port: int, users: np.ndarray) -> dict:
    """ms from POSTing a purchase of the user's top item to receiving a list without it (checked every time).

    Every request opens its own connection, so with several workers the read may land on another worker than
    the write (the time includes the TCP connects)."""
    base = f"http://127.0.0.1:{port}"
    times, stale = [], 0
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, headers={"X-API-Key": WRITE_KEY}, timeout=10.0, limits=fresh) as client:
        for user in users:
            top = client.get(f"/recommendations/u{user}", params={"n": 10}).json()["items"][0]["item"]
            started = time.perf_counter()
            event = {"user": f"u{user}", "item": top, "event": "purchase"}
            client.post("/events", json=event).raise_for_status()
            after = client.get(f"/recommendations/u{user}", params={"n": 10}).json()["items"]
            times.append((time.perf_counter() - started) * 1000.0)
            stale += any(row["item"] == top for row in after)
    ms = np.asarray(times)
    return {
        "event_to_rec_p50_ms": round(float(np.percentile(ms, 50)), 2),
        "event_to_rec_p99_ms": round(float(np.percentile(ms, 99)), 2),
        "event_to_rec_max_ms": round(float(ms.max()), 2),
        "events": len(ms),
        "stale_after_event": stale,
    }


def ann_recall(args: argparse.Namespace, queries: int = 1000) -> dict:
    """recall@10 against exact search of the index the server builds (same code, so the same calibrated nprobe),
    for 1,000 user vectors other than the calibration sample."""
    model = MF.load(args.work / "model")
    with thread_limit(2):
        index, calibration = build_index(model, args.index)
        users = np.random.default_rng(args.seed + 1).choice(args.users, queries, replace=False)
        q = model.user_vectors(users)
        recall = recall_at_k(index.search(q, 10)[0], index.exact_search(q, 10)[0])
    return {"ann_recall@10": round(recall, 4), "index_kind": index.kind, "nlist": index.nlist, **calibration}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=1_000)
    parser.add_argument("--rates", type=float, nargs="+", default=[100.0, 1000.0, 1500.0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each rate is sustained")
    parser.add_argument("--cold-rate", type=float, default=50.0, help="req/s of new visitors (cold-start lists)")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--nprobe", type=int, default=None, help="IVF lists probed (default: the index's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.cache/serve"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument("--runs", type=int, default=3, help="server starts; the summary gives each number's median")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (shoprec serve --workers)")
    args = parser.parse_args()
    args.index = {} if args.nprobe is None else {"nprobe": args.nprobe}
    toml = build_pipeline(args)
    recall = ann_recall(args)
    rows = []
    for run in range(args.runs):
        rows.append({**serve_once(args, toml, run), **recall})
        RESULTS.parent.mkdir(exist_ok=True)
        with RESULTS.open("a") as out:
            out.write(json.dumps(with_provenance(rows[-1], seed=args.seed)) + "\n")
        print(markdown(rows[-1]), flush=True)
    if len(rows) > 1:
        print(f"\nmedians of {len(rows)} runs:\n{markdown(median_row(rows))}")


def serve_once(args: argparse.Namespace, toml: Path, run: int) -> dict:
    """One server start on an empty event store, the load at each rate, and the event -> recommendation loop."""
    (args.work / "events.sqlite").unlink(missing_ok=True)
    port = free_port()
    proc, startup_s = start_server(toml, port, args.startup_timeout, args.workers)
    try:
        memory_idle = memory_mb(proc.pid)
        rng = np.random.default_rng(args.seed + run)
        run_load(proc.pid, port, known_users(rng, args.users, args.warmup), min(args.rates), args.warmup, args.work)
        counts = [max(1, round(rate * args.seconds)) for rate in args.rates]
        loads = [
            run_load(proc.pid, port, known_users(rng, args.users, count), rate, count, args.work)
            for rate, count in zip(args.rates, counts, strict=True)
        ]
        visitors = [f"visitor-{run}-{i}" for i in range(max(1, round(args.cold_rate * args.seconds)))]
        cold = run_load(proc.pid, port, visitors, args.cold_rate, len(visitors), args.work)
        events = event_to_recommendation(port, rng.choice(args.users, args.events, replace=False))
        memory_after = memory_mb(proc.pid)
    finally:
        stop_server(proc)
    return {
        "items": args.items,
        "users": args.users,
        "dim": args.dim,
        "clusters": args.clusters,
        "run": run,
        "workers": args.workers,
        "startup_s": round(startup_s, 1),
        "pss_idle_mb": memory_idle["pss"],
        "pss_after_mb": memory_after["pss"],
        "rss_after_mb": memory_after["rss"],
        "peak_rss_mb": memory_after["peak"],
        "loads": [{"rate": r, **load} for r, load in zip(args.rates, loads, strict=True)],
        "cold_start": {"rate": args.cold_rate, **cold},
        **events,
        "cpus": os.cpu_count(),
    }


def median_row(rows: list[dict]) -> dict:
    """Each number the median over runs (loads matched by rate); everything else from the first run."""

    def median(values: list) -> object:
        if not all(isinstance(v, int | float) for v in values):
            return values[0]
        middle = float(np.median(values))
        return int(middle) if middle.is_integer() and all(isinstance(v, int) for v in values) else middle

    def load_median(pick: Callable[[dict], dict]) -> dict:
        return {k: median([pick(r)[k] for r in rows]) for k in pick(rows[0])}

    out = {k: median([r[k] for r in rows]) for k in rows[0] if k not in ("loads", "cold_start")}
    out["loads"] = [load_median(lambda r, i=i: r["loads"][i]) for i in range(len(rows[0]["loads"]))]
    out["cold_start"] = load_median(lambda r: r["cold_start"])
    return out


def markdown(row: dict) -> str:
    lines = [
        f"**{row['items']:,} items x {row['users']:,} users, {row['dim']} dims, {row['cpus']} cores, "
        f"{row['workers']} server worker processes**",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        *(
            f"| top-10 at {load['rate']:.0f} req/s offered: achieved rate, latency p50 / p99 | "
            f"{load['achieved_rps']:.0f} req/s, {load['p50_ms']:.2f} / {load['p99_ms']:.2f} ms "
            f"({load['requests']:,} requests, statuses {load['statuses']}, errors {load['errors']}; "
            f"server CPU {load.get('server_cpu_us_per_request', float('nan')):.0f} us/request, "
            f"CPU steal {load.get('steal_pct', float('nan')):.1f}%) | "
            ">= 1,000 req/s, p99 < 10 ms |"
            for load in row["loads"]
        ),
        f"| new visitors (cold-start lists) at {row['cold_start']['rate']:.0f} req/s: achieved rate, p50 / p99 | "
        f"{row['cold_start']['achieved_rps']:.0f} req/s, {row['cold_start']['p50_ms']:.2f} / "
        f"{row['cold_start']['p99_ms']:.2f} ms (server CPU {row['cold_start']['server_cpu_us_per_request']:.0f} "
        "us/request) | — |",
        f"| event -> next recommendation p50 / p99 | {row['event_to_rec_p50_ms']:.1f} / "
        f"{row['event_to_rec_p99_ms']:.1f} ms ({row['stale_after_event']} stale of {row['events']}) | < 50 ms |",
        f"| ANN recall@10 ({row['index_kind']}, nlist {row['nlist']}, nprobe {row.get('index_nprobe')}) | "
        f"{row['ann_recall@10']:.4f} | >= 0.95 |",
        f"| server memory, all processes (PSS) after start / after load | {row['pss_idle_mb']:,.0f} / "
        f"{row['pss_after_mb']:,.0f} MB | — |",
        f"| largest server process, resident after load (peak) | {row['rss_after_mb']:,.0f} "
        f"({row['peak_rss_mb']:,.0f}) MB | — |",
        f"| start-up (load, verify, build index) | {row['startup_s']:.0f} s | — |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
