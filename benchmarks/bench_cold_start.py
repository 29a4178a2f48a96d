"""Cold start, measured: what a new user is shown before and after their first events.

Whole users are held out (20% of ML-100K's users, none of their events in training). For each held-out
user, with their events in time order:

  * before any event: global popularity, and popularity within the user's profile segment
    (`ColdStart` with shrinkage towards global popularity), for several profile fields;
  * after their first k events (k = 1, 3, 5): the live loop's fold-in vector (`LiveUsers`' encoder, the
    same code the service runs on each event) against popularity, both excluding those k items.

Targets are the user's remaining items; recall@10 and NDCG@10 averaged over users. JSON lines go to
benchmarks/results/cold_start.jsonl.

    SHOPREC_DATA_DIR=../shared/data python -m benchmarks.bench_cold_start
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from benchmarks.results_io import with_provenance
from shoprec.data.features import CategoricalColumn
from shoprec.data.sources import load_dataset
from shoprec.data.split import split_dataset
from shoprec.evaluation.metrics import ndcg, recall
from shoprec.models.registry import create_model
from shoprec.serving.coldstart import ColdStart
from shoprec.serving.live import history_encoder

RESULTS = Path(__file__).parent / "results" / "cold_start.jsonl"
K = 10


def top(scores: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    scores = np.array(scores, dtype=np.float64)
    scores[exclude] = -np.inf
    return np.argsort(-scores, kind="stable")[:K]


def mean_metrics(lists: list[np.ndarray], targets: list[np.ndarray]) -> dict[str, float]:
    pairs = [(r, t) for r, t in zip(lists, targets, strict=True) if len(t)]
    return {
        f"recall@{K}": round(float(np.mean([recall(r, t, K) for r, t in pairs])), 4),
        f"ndcg@{K}": round(float(np.mean([ndcg(r, t, K) for r, t in pairs])), 4),
        "users": len(pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="ml-100k")
    parser.add_argument("--fields", nargs="+", default=["occupation", "gender", "zip_prefix"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = load_dataset(args.data, data_dir=os.environ.get("SHOPREC_DATA_DIR"))
    split = split_dataset(data, "user-holdout", test_users=0.2, valid_users=0.0, seed=args.seed)
    train, test = split.train, split.test
    model = create_model("ials").fit(train)
    encoder = history_encoder(model)
    item_vectors = model.item_vectors()
    inter = test.interactions
    order = np.lexsort((inter.timestamps, inter.users))
    users, starts = np.unique(inter.users[order], return_index=True)
    histories = np.split(inter.items[order], starts[1:])
    nothing = np.zeros(0, dtype=np.int64)
    rows = []
    popular = ColdStart.from_dataset(train, segment_field=None).scores()
    before = {"global popularity": [top(popular, nothing) for _ in users]}
    for field in args.fields:
        column = train.user_features[field] if train.user_features is not None else None
        if not isinstance(column, CategoricalColumn):
            continue
        segments = ColdStart.from_dataset(train, segment_field=field)
        values = [column.values[c - 1] if c > 0 else None for c in column.codes[users]]
        before[f"popularity in {field} segment"] = [top(segments.scores({field: v}), nothing) for v in values]
    for name, lists in before.items():
        rows.append({"events_seen": 0, "method": name, **mean_metrics(lists, histories)})
    for k in (1, 3, 5):
        seen = [h[:k] for h in histories]
        rest = [np.setdiff1d(h[k:], h[:k]) for h in histories]
        folded = [top(item_vectors @ encoder(s, np.ones(len(s), np.float32), -1), s) for s in seen]
        rows.append(
            {"events_seen": k, "method": "global popularity", **mean_metrics([top(popular, s) for s in seen], rest)}
        )
        rows.append({"events_seen": k, "method": "live fold-in (iALS)", **mean_metrics(folded, rest)})
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as out:
        for row in rows:
            out.write(json.dumps(with_provenance({"data": args.data, "seed": args.seed, **row})) + "\n")
    print(f"| events seen | method | recall@{K} | NDCG@{K} | users |\n|---|---|---|---|---|")
    for row in rows:
        metrics = f"{row[f'recall@{K}']:.4f} | {row[f'ndcg@{K}']:.4f}"
        print(f"| {row['events_seen']} | {row['method']} | {metrics} | {row['users']} |")


if __name__ == "__main__":
    main()
