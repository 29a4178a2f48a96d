"""How much equal timestamps move sequence models: file order vs seeded shuffles within ties.

Leave-one-out by time decides which of two events sharing a second is a user's "last" (the test item),
and sequence models read events of equal time in some order. Everywhere the default is the file's row
order; `ties="shuffle"` (splits, `Sequences`) orders them by a seeded shuffle instead. This script
permutes the rows with the same seeded permutation before splitting, which is equivalent to
`ties="shuffle"` in the split and in every model's sequences at once, then fits SASRec and the two-tower
model (recent-items history field) and evaluates full ranking on the test part (training history;
pessimistic ties, so the scores themselves favour nobody).

    python -m benchmarks.bench_ties                                   # ML-100K: file order + 2 shuffles
    python -m benchmarks.bench_ties --datasets ml-1m --shuffles 1 --epochs 3   # needs ML-1M's ratings.dat

ML-1M is measured only where its `ratings.dat` (with timestamps) is present: the copy in the shared data folder
has ratings without timestamps (see its SOURCE.md), so there every order is the file's and nothing ties.

Rows are appended as JSON lines to benchmarks/results/ties.jsonl, each with its provenance and epoch budget.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_two_tower import PARAMS as TWO_TOWER_PARAMS
from benchmarks.provenance import provenance
from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.data.sources import load_dataset
from shoprec.data.split import split_dataset, tie_breaker
from shoprec.evaluation import evaluate
from shoprec.models.registry import create_model

RESULTS = Path(__file__).parent / "results" / "ties.jsonl"
METRICS = ("hr@10", "ndcg@10", "recall@20")
NOTE = (
    "shared 2-core machine (8 jobs at once, nice 5); reduced epoch budget (not converged), validated every epoch "
    "on NDCG@10 with early stopping after `patience` epochs without gain; the best epoch's weights are kept"
)

#: Per model: hyperparameters (SASRec's documented defaults; the two-tower's ML-100K preset, whose history
#: field holds the 20 most recent items). Epochs and patience come from the command line.
MODELS: dict[str, dict[str, Any]] = {
    "sasrec": {"embedding_size": 64, "max_len": 50, "dropout": 0.2},
    "two_tower": {k: v for k, v in TWO_TOWER_PARAMS["ml-100k"]["two_tower"].items() if k != "patience"},
}


def tie_statistics(data: Dataset) -> dict[str, float]:
    """Share of events sharing (user, timestamp) with another event, and users whose last two events tie."""
    inter = data.interactions
    order = np.lexsort((inter.timestamps, inter.users))
    users, times = inter.users[order], inter.timestamps[order]
    same = (users[1:] == users[:-1]) & (times[1:] == times[:-1])
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    last = np.flatnonzero(np.r_[users[1:] != users[:-1], True])  # each user's last event in time
    last_two_tie = (last >= 1) & same[np.maximum(last - 1, 0)] & (users[np.maximum(last - 1, 0)] == users[last])
    return {
        "events_in_ties": round(float(tied.mean()), 4),
        "users_last_two_tied": int(last_two_tie.sum()),
        "users": len(last),
    }


def tie_order(data: Dataset, seed: int | None) -> Dataset:
    """The data with rows in file order (seed None) or permuted so that ties follow `tie_breaker`'s shuffle."""
    if seed is None:
        return data
    return data.with_interactions(data.interactions.take(np.argsort(tie_breaker(len(data), "shuffle", seed))))


def test_events(data: Dataset) -> set[tuple[int, int]]:
    split = split_dataset(data, "loo")
    return set(zip(split.test.interactions.users.tolist(), split.test.interactions.items.tolist(), strict=True))


def run_one(args: argparse.Namespace, name: str, data: Dataset, model: str, seed: int | None) -> dict[str, Any]:
    """Split, fit and evaluate one (model, tie order) cell."""
    ordered = tie_order(data, seed)
    split = split_dataset(ordered, "loo")
    params = {**MODELS[model], "epochs": args.epochs[name], "patience": args.patience, "seed": args.model_seed}
    options = TrainOptions(threads=args.threads)
    start = time.perf_counter()
    fitted = create_model(model, **params).fit(split.train, valid=split.valid, options=options)
    seconds = time.perf_counter() - start
    result = evaluate(fitted, split, ks=(10, 20), beyond_accuracy=False, segments=False, ci=False)
    return {
        "dataset": name,
        "model": model,
        "ties": "file order" if seed is None else "shuffle",
        "tie_seed": seed,
        **{k: round(result.metrics[k], 4) for k in METRICS},
        "epochs_budget": args.epochs[name],
        "epochs_run": len(getattr(fitted, "history_", [])),
        "fit_seconds": round(seconds, 1),
        "params": params,
        "note": NOTE,
        "provenance": provenance(seed=args.model_seed, threads=args.threads, device="cpu"),
    }


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["ml-100k"], help="data sets with timestamps")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--shuffles", type=int, default=2, help="seeded shuffles (seeds 1..N) beside file order")
    p.add_argument("--epochs", type=int, default=None, help="epoch budget (default 20; 3 on ML-1M)")
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--model-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    args.epochs = {name: args.epochs or (3 if name == "ml-1m" else 20) for name in args.datasets}
    return args


def main() -> None:
    args = parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        data = load_dataset(name, data_dir=args.data_dir)
        if data.interactions.timestamps is None:
            raise SystemExit(f"{name}: has no timestamps here, so nothing ties in time; see this script's docstring")
        stats = tie_statistics(data)
        base = test_events(data)
        moved = {s: 1 - len(base & test_events(tie_order(data, s))) / len(base) for s in range(1, args.shuffles + 1)}
        print(f"{name}: {stats}; test items changed by each shuffle: {moved}", flush=True)
        for model in args.models:
            for seed in [None, *range(1, args.shuffles + 1)]:
                row = run_one(args, name, data, model, seed)
                row.update(stats, test_items_changed=None if seed is None else round(moved[seed], 4))
                print(json.dumps({k: v for k, v in row.items() if k not in ("params", "provenance")}), flush=True)
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
