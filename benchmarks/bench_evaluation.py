"""Speed of full-ranking evaluation at ML-1M size, excluding model fitting.

Synthetic data of ML-1M's shape (6,040 users x 3,706 items, ~1M interactions with a popularity skew,
~100k of them held out as test and ~100k as validation) and a model with random 64-dim user and item
vectors. Every metric is on: k up to 100, AUC, beyond-accuracy (diversity from the model's vectors),
segments and confidence intervals. Prints the median seconds of each phase over the repeats, and the
process CPU seconds (summed over threads; less sensitive than wall time to other load on the machine).

    python -m benchmarks.bench_evaluation [--repeats 5] [--threads 2]

Appends one row (medians, CPU seconds, provenance) to benchmarks/results/evaluation.jsonl (--out).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.results_io import RESULTS, append_row
from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset, Interactions, Split
from shoprec.data.vocabulary import Vocabulary
from shoprec.evaluation import evaluate
from shoprec.models.base import VectorRecommender

N_USERS, N_ITEMS, N_INTERACTIONS, DIM = 6040, 3706, 1_000_209, 64


class RandomVectors(VectorRecommender):
    """Dot product of seeded random vectors: as cheap to score as a trained 64-dim model."""

    name = "random_vectors"

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        rng = np.random.default_rng(self.config.seed)
        self.users_ = rng.standard_normal((train.n_users, DIM), dtype=np.float32)
        self.items_ = rng.standard_normal((train.n_items, DIM), dtype=np.float32)

    def user_vectors(self, users: np.ndarray | None = None) -> np.ndarray:
        return self.users_ if users is None else self.users_[users]

    def item_vectors(self, items: np.ndarray | None = None) -> np.ndarray:
        return self.items_ if items is None else self.items_[items]


def synthetic_split(seed: int = 0) -> Split:
    """Distinct (user, item) pairs with Zipf-like item popularity, split 80/10/10 at random."""
    rng = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.8
    users = rng.integers(0, N_USERS, int(N_INTERACTIONS * 1.6))
    items = rng.choice(N_ITEMS, size=len(users), p=item_p / item_p.sum())
    keys = np.unique(users * N_ITEMS + items)
    rng.shuffle(keys)
    keys = keys[:N_INTERACTIONS]
    part = rng.random(len(keys))
    vocab_users = Vocabulary(np.arange(N_USERS).astype(str))
    vocab_items = Vocabulary(np.arange(N_ITEMS).astype(str))

    def dataset(mask: np.ndarray) -> Dataset:
        inter = Interactions.build(keys[mask] // N_ITEMS, keys[mask] % N_ITEMS)
        return Dataset("synthetic-ml-1m", inter, vocab_users, vocab_items)

    return Split(train=dataset(part < 0.8), valid=dataset((part >= 0.8) & (part < 0.9)), test=dataset(part >= 0.9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--out", type=Path, default=RESULTS / "evaluation.jsonl", help="results file (appended)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    split = synthetic_split()
    model = RandomVectors(ModelConfig()).fit(split.train)
    print(
        f"train {len(split.train):,} valid {len(split.valid or []):,} test {len(split.test):,} interactions; "
        f"torch threads {torch.get_num_threads()}"
    )
    runs = []
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        result = evaluate(model, split, ks=(1, 5, 10, 20, 50, 100))
        runs.append(
            {**result.timings, "wall": time.perf_counter() - start, "cpu (all threads)": time.process_time() - cpu}
        )
    medians = {phase: round(statistics.median(r[phase] for r in runs), 4) for phase in runs[0]}
    for phase, seconds in medians.items():
        print(f"{phase:>17}: median {seconds:.3f} s")
    print(f"metrics reported: {len(result.metrics)}; users: {result.n_users}; ndcg@10 {result.metrics['ndcg@10']:.4f}")
    row = {
        "shape": {"users": N_USERS, "items": N_ITEMS, "interactions": N_INTERACTIONS, "dim": DIM},
        "ks": [1, 5, 10, 20, 50, 100],
        "repeats": args.repeats,
        "median_s": medians,
        "metrics_reported": len(result.metrics),
        "users": result.n_users,
    }
    append_row(args.out, row, seed=0, threads=torch.get_num_threads(), device="cpu")


if __name__ == "__main__":
    main()
