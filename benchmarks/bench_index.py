"""ANN retrieval index: recall@10 against exact search, and query latency, at 1M items x 64 dims.

Vectors are CLUSTERED, as real item embeddings are: --clusters gaussian clusters (unit centre directions plus
isotropic noise of expected norm 1, so clusters overlap and a query's top 10 is not just its own cluster);
queries are fresh draws from the same mixture. On uniform random vectors an IVF index needs far more probes
for the same recall, and such vectors look nothing like trained embeddings. With as many clusters as IVF
lists (1,000 at 1M) the lists fit the clusters unusually well; 10,000 clusters is the harder case.

For each nprobe: recall@10 of `ItemIndex.search` against `ItemIndex.exact_search` (the fraction of the
exact top 10 found), unfiltered and under random allowed masks of 50%, 5% and 1% of the items; latency of
single queries (b=1) unfiltered, under each mask and with 50 excluded items per query, and of batches
(b=64), each as [median ms, p99 ms, median process CPU ms]. One JSON line per nprobe is appended to --out.

    python -m benchmarks.bench_index --clusters 10000 --nprobe 16 32 --threads 1
    python -m benchmarks.bench_index --items 200000 --nprobe 16
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.results_io import with_provenance
from shoprec.serving.index import ItemIndex, default_nlist
from shoprec.serving.index_arrays import recall_at_k

RESULTS = Path(__file__).parent / "results"


def clustered_vectors(rng: np.random.Generator, centres: np.ndarray, n: int, noise: float) -> np.ndarray:
    """(n, d) float32 draws: a random centre (unit direction) plus gaussian noise of expected norm `noise`."""
    d = centres.shape[1]
    member = rng.integers(0, len(centres), n)
    return (centres[member] + rng.standard_normal((n, d), dtype=np.float32) * (noise / np.sqrt(d))).astype(np.float32)


def latency_ms(call: Callable[[int], object], repeats: int) -> tuple[float, float, float]:
    """(median, p99) wall milliseconds of `call(i)` over `repeats` calls after one warm-up, and the median
    process CPU milliseconds (all threads): on a busy machine the CPU time shows the cost without the waiting."""
    call(0)
    wall, cpu = [], []
    for i in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        call(i)
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - cpu_start) * 1e3)
    return tuple(round(float(x), 3) for x in (np.median(wall), np.percentile(wall, 99), np.median(cpu)))


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    items = clustered_vectors(rng, centres, args.items, args.noise)
    queries = clustered_vectors(rng, centres, args.queries, args.noise)
    start = time.perf_counter()
    index = ItemIndex.build(items, exact_below=args.exact_below, nlist=args.nlist, seed=args.seed)
    build = time.perf_counter() - start
    del items
    print(f"built {index.kind} index over {index.size:,} x {index.dim} in {build:.1f} s")
    masks = {f"{share:.0%}": rng.random(index.size) < share for share in (0.5, 0.05, 0.01)}
    seen = [rng.integers(0, index.size, 50) for _ in range(len(queries))]
    exact = {name: index.exact_search(queries, args.k, allowed=mask)[0] for name, mask in [("", None), *masks.items()]}
    b1 = queries[:, None, :]  # single queries
    batches = queries[: len(queries) // 64 * 64].reshape(-1, 64, index.dim)
    rows = []
    for nprobe in args.nprobe:
        index.nprobe = nprobe
        row: dict[str, object] = {
            "benchmark": "ann-index",
            "data": f"{args.clusters} gaussian clusters, noise {args.noise} (clustered, like real embeddings)",
            "items": index.size,
            "dim": index.dim,
            "kind": index.kind,
            "nlist": index.nlist,
            "nprobe": nprobe,
            "k": args.k,
            "build_seconds": round(build, 1),
            **{
                f"recall@{args.k}{'_filter_' if name else ''}{name}": round(
                    recall_at_k(index.search(queries, args.k, allowed=masks.get(name))[0], ids), 4
                )
                for name, ids in exact.items()
            },
            "threads": args.threads,
            "load_average_1min": round(os.getloadavg()[0], 1),
        }
        row["b1_ms"] = latency_ms(lambda i: index.search(b1[i % len(queries)], args.k), args.repeats)
        for name, mask in masks.items():
            row[f"b1_filter_{name}_ms"] = latency_ms(
                lambda i, m=mask: index.search(b1[i % len(queries)], args.k, allowed=m), args.repeats
            )
        row["b1_exclude50_ms"] = latency_ms(
            lambda i: index.search(b1[i % len(queries)], args.k, exclude=[seen[i % len(queries)]]), args.repeats
        )
        row["b64_ms"] = latency_ms(lambda i: index.search(batches[i % len(batches)], args.k), args.repeats // 10)
        print(json.dumps(row))
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--noise", type=float, default=1.0, help="noise norm around the unit cluster centres")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nlist", type=int, default=None, help="default: shoprec's default_nlist(items)")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--exact-below", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=300, help="single queries timed per setting")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "index.jsonl")
    args = parser.parse_args()
    print(f"default nlist at {args.items:,} items: {default_nlist(args.items)}")
    import faiss

    faiss.omp_set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        rows = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as fh:
        fh.writelines(json.dumps(with_provenance(row, seed=args.seed)) + "\n" for row in rows)


if __name__ == "__main__":
    main()
