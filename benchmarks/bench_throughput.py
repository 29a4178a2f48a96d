"""Training throughput of NeuMF on ML-1M-sized data: examples/s, epoch seconds and peak RSS.

The setting of the acceptance table: NeuMF with 64-dim embeddings, an MLP tower 128 -> 64, 2,048 examples
per step (1,024 positives + 1 sampled negative each) and Adam. Rows:

    shoprec sparse   NeuMF.fit as shipped: sparse embedding gradients, lazy row-wise Adam (RowAdam)
    shoprec dense    NeuMF.fit with dense embedding gradients and dense Adam
    plain loop       a hand-written PyTorch loop over pre-sampled tensors, dense Adam (the reference point)
    step-sparse/-dense  one training step in isolation (fixed random batch), shoprec's optimizer either way

Throughput counts scored examples (positives + negatives) of the second epoch, whose time includes that
epoch's negative sampling; the first epoch is warm-up. Data is synthetic with ML-1M's shape (6,040 users,
3,706 items, 1,000,209 interactions, Zipf-like item popularity) unless --real reads ml-1m-ncf.

    python -m benchmarks.bench_throughput --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.results_io import RESULTS, append_row
from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.vocabulary import Vocabulary
from shoprec.models.ncf import NCFModule, NeuMF
from shoprec.training import bce_loss, build_optimizer

PARAMS = {"embedding_size": 64, "layers": (128, 64), "negatives": 1, "batch_size": 1024, "epochs": 2, "reg": 0.0}


def synthetic_ml1m(seed: int = 0) -> Dataset:
    """Unique (user, item) pairs shaped like ML-1M: skewed item popularity, every user and item present."""
    n_users, n_items, n = 6040, 3706, 1_000_209
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    keys = np.unique(
        rng.integers(0, n_users, 2 * n) * n_items + rng.choice(n_items, 2 * n, p=popularity / popularity.sum())
    )
    keys = rng.permutation(keys)[:n]
    return Dataset(
        name="synthetic-ml-1m",
        interactions=Interactions.build(keys // n_items, keys % n_items),
        users=Vocabulary(np.arange(n_users).astype(str)),
        items=Vocabulary(np.arange(n_items).astype(str)),
    )


def shoprec_row(train: Dataset, sparse: bool, options: TrainOptions) -> dict[str, float]:
    model = NeuMF(**PARAMS, sparse=sparse).fit(train, options=options)
    last = model.history_[-1]
    return {"examples_per_s": last.examples_per_s, "epoch_s": last.seconds}


def plain_row(train: Dataset, device: str) -> dict[str, float]:
    """The reference: dense tables, dense Adam, one pre-sampled epoch, randperm slices; timed on epoch 2."""
    torch.manual_seed(0)
    module = NCFModule(train.n_users, train.n_items, gmf_size=64, layers=(128, 64), sparse=False).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.001)
    users = torch.from_numpy(train.interactions.users).to(device)
    items = torch.stack([torch.from_numpy(train.interactions.items), torch.randint(0, train.n_items, (len(train),))], 1)
    items = items.to(device)
    seconds = 0.0
    for _ in range(2):
        start = time.perf_counter()
        perm = torch.randperm(len(users), device=device)
        for s in range(0, len(users), PARAMS["batch_size"]):
            batch = perm[s : s + PARAMS["batch_size"]]
            optimizer.zero_grad()
            scores, _ = module(users[batch], items[batch])
            bce_loss(scores).backward()
            optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return {"examples_per_s": 2 * len(users) / seconds, "epoch_s": seconds}


def step_row(n_users: int, n_items: int, sparse: bool, steps: int = 60) -> dict[str, float]:
    """Mean time of one NeuMF step on a fixed batch after `steps` warm-up steps (no data pipeline)."""
    torch.manual_seed(0)
    module = NCFModule(n_users, n_items, gmf_size=64, layers=(128, 64), sparse=sparse)
    optimizer = build_optimizer(module, "adam", 0.001)
    users = torch.randint(0, n_users, (PARAMS["batch_size"],))
    items = torch.randint(0, n_items, (PARAMS["batch_size"], 2))
    for _warm_then_timed in range(2):
        start = time.perf_counter()
        for _ in range(steps):
            optimizer.zero_grad()
            bce_loss(module(users, items)[0]).backward()
            optimizer.step()
    seconds = (time.perf_counter() - start) / steps
    return {"examples_per_s": 2 * PARAMS["batch_size"] / seconds, "epoch_s": float("nan"), "step_ms": 1e3 * seconds}


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.jsonl", help="results file (appended)")
    parser.add_argument("--rows", default="sparse,dense,plain,step-sparse,step-dense", help="comma-separated rows")
    parser.add_argument("--real", action="store_true", help="train on ml-1m-ncf instead of synthetic data")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SHOPREC_DATA_DIR", "../shared/data")))
    args = parser.parse_args(argv)
    if args.real:
        from shoprec.data.sources import load_ncf_split

        train = load_ncf_split(args.data_dir / "ml-1m-ncf" / "ml-1m.train.rating").train
    else:
        train = synthetic_ml1m()
    torch.set_num_threads(args.threads)
    options = TrainOptions(device=args.device, threads=args.threads)
    results = []
    for row in args.rows.split(","):
        if row == "plain":
            measured = plain_row(train, args.device)
        elif row.startswith("step-"):
            measured = step_row(train.n_users, train.n_items, row == "step-sparse")
        else:
            measured = shoprec_row(train, row == "sparse", options)
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results.append(
            {"row": row, "threads": args.threads, "device": args.device, **measured, "peak_rss_mib": rss_mib}
        )
        print(json.dumps(results[-1]), flush=True)
        append_row(args.out, results[-1], seed=None, threads=args.threads, device=args.device)
    print(f"\n{len(train):,} interactions, 2 examples each; peak RSS is the process's so far (cumulative)")
    print(f"{'row':<8} {'examples/s':>12} {'epoch s':>8} {'peak RSS MiB':>13}")
    for r in results:
        print(f"{r['row']:<8} {r['examples_per_s']:>12,.0f} {r['epoch_s']:>8.2f} {r['peak_rss_mib']:>13.0f}")
    return results


if __name__ == "__main__":
    main()
