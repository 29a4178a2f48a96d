"""Speed of `NegativeSampler` at ML-1M size: negatives per second that exclude each user's positives.

The ML-1M ratings (all of them positives) go into a uniform and a popularity sampler; each repeat draws
`--per-positive` negatives for every positive's user (about 4M draws with the default 4, the size of one
training epoch with 4 negatives). Prints and records the median over repeats of negatives per second.

    python -m benchmarks.bench_sampling [--repeats 5] [--per-positive 4] [--threads 1]

Appends one row per distribution (with provenance) to benchmarks/results/sampling.jsonl (--out). Needs
SHOPREC_DATA_DIR (or the cache) holding ml-1m/.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from benchmarks.results_io import RESULTS, append_row
from shoprec.data.sampling import NegativeSampler
from shoprec.data.sources import load_dataset


def negatives_per_second(sampler: NegativeSampler, users, k: int, repeats: int) -> list[float]:
    """Negatives drawn per wall-clock second in each repeat."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        drawn = sampler.sample(users, k)
        rates.append(drawn.size / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--per-positive", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "sampling.jsonl", help="results file (appended)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    positives = data.to_csr(values="ones")
    users = data.interactions.users
    for distribution in ("uniform", "popularity"):
        sampler = NegativeSampler(positives, distribution=distribution, seed=0)
        rates = negatives_per_second(sampler, users, args.per_positive, args.repeats)
        row = {
            "dataset": args.dataset,
            "distribution": distribution,
            "users": data.n_users,
            "items": data.n_items,
            "positives": len(data),
            "draws_per_repeat": len(users) * args.per_positive,
            "repeats": args.repeats,
            "negatives_per_s_median": round(statistics.median(rates)),
        }
        print(f"{distribution:>10}: {row['negatives_per_s_median']:,} negatives/s (median of {args.repeats})")
        append_row(args.out, row, seed=0, threads=args.threads, device="cpu")


if __name__ == "__main__":
    main()
