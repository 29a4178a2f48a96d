"""The measured value of real time: replay a test period through the live loop vs a static model.

Global temporal split (the last 10% of events by time are the test period; the model trains on the rest),
iALS trained once, then `shoprec.serving.replay.replay` walks the test period in time order: before each
event the static model, the static model with replay-time exclusions, and the live loop (fold-in after
every event) each rank the event's item. Prints HR@10 / NDCG@10 / MRR per variant, for users known at
training time and for users new in the test period, and appends JSON lines to
benchmarks/results/streaming.jsonl.

    SHOPREC_DATA_DIR=../shared/data python -m benchmarks.bench_streaming --data ml-100k ml-latest-small amazon-grocery
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks.results_io import with_provenance
from shoprec.config import TrainOptions
from shoprec.data.sources import load_dataset
from shoprec.data.split import split_dataset
from shoprec.models.registry import create_model
from shoprec.serving.replay import VARIANTS, replay

RESULTS = Path(__file__).parent / "results" / "streaming.jsonl"

#: iALS settings per data set: the defaults on MovieLens; Amazon's sparse logs need more confidence per
#: event (the same choice as the Beauty baseline, docs/models/baselines.md).
PARAMS = {"amazon-grocery": {"alpha": 30.0, "embedding_size": 128}}


def run(name: str, max_events: int | None, threads: int) -> dict:
    data = load_dataset(name, data_dir=os.environ.get("SHOPREC_DATA_DIR"))
    split = split_dataset(data, "temporal", test=0.1, valid=0.0)
    started = time.perf_counter()
    model = create_model("ials", **PARAMS.get(name, {})).fit(split.train, options=TrainOptions(threads=threads))
    fit_s = time.perf_counter() - started
    result = replay(model, split.test, k=10, max_events=max_events)
    return {"data": name, "model": "ials", "params": PARAMS.get(name, {}), "fit_s": round(fit_s, 2), **result.to_dict()}


def table(row: dict) -> str:
    k = row["k"]
    lines = [
        f"### {row['data']}: {row['n_events']:,} replayed events, {row['n_targets']:,} targets, "
        f"{row['n_users']:,} users ({row['n_new_users']:,} new)",
        "",
        f"| users | variant | HR@{k} | NDCG@{k} | MRR |",
        "|---|---|---|---|---|",
    ]
    groups = [("all", row["metrics"])] + [(kind, row["by_user_kind"][kind]) for kind in ("known", "new")]
    for group, metrics in groups:
        for variant in VARIANTS:
            m = metrics[variant]
            lines.append(f"| {group} | {variant} | {m[f'hr@{k}']:.4f} | {m[f'ndcg@{k}']:.4f} | {m['mrr']:.4f} |")
    lines.append(f"\nreplay {row['seconds']:.1f} s, live update median {row['observe_ms_median']:.3f} ms per event")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["ml-100k", "ml-latest-small", "amazon-grocery"])
    parser.add_argument("--max-events", type=int, default=30_000, help="replay at most this many test events")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for name in args.data:
        row = run(name, args.max_events, args.threads)
        RESULTS.parent.mkdir(exist_ok=True)
        with RESULTS.open("a") as out:
            out.write(json.dumps(with_provenance(row, threads=args.threads)) + "\n")
        print(table(row), flush=True)


if __name__ == "__main__":
    main()
