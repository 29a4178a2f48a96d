"""What each re-ranking step costs in accuracy and buys in coverage, diversity and tail share, offline.

ML-100K, temporal leave-one-out (the last event of each user is the test item), full ranking with training
and validation items excluded, as in benchmarks/baselines.py. iALS (its documented defaults) retrieves the
top 100 candidates per user; `RerankedRecommender` re-ranks them to 10 and `evaluation.evaluate` measures
the lists, so the numbers are those of what would be served.

Rows: iALS alone; MMR lambda in {1.0, 0.9, 0.7, 0.5} (cosine of iALS item vectors), plus MMR with the
category fallback (genre equality); LongTailBoost weight in {0, 0.1, 0.3, 0.5}; CategoryCap max_per in
{3, 2, 1} over each movie's first listed genre. Diversity is measured twice: with genre multi-hot vectors
(`diversity@10`, model-independent) and with iALS item vectors (`diversity_ials@10`, what MMR optimises).

    SHOPREC_DATA_DIR=../shared/data python -m benchmarks.bench_rerank [--threads 2]
    python -m benchmarks.bench_rerank --latency     # serving cost per request, synthetic catalog

`--latency` times `Reranker.apply` for one request (b = 1, 200 candidates, n = 10) over a synthetic catalog
of 1,000,000 items with 64-dim vectors, per step and for the whole chain (median of 1,000 calls).

Rows are printed as a Markdown table and appended as JSON lines to benchmarks/results/rerank.jsonl.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_deepfm import report
from shoprec.config import TrainOptions
from shoprec.data.dataset import Split
from shoprec.evaluation import evaluate
from shoprec.experiment import ExperimentSpec, prepare_split
from shoprec.models import IALS, Recommender
from shoprec.rerank import (
    MMR,
    BusinessRules,
    CategoryCap,
    LongTailBoost,
    RerankContext,
    RerankedRecommender,
    Reranker,
)

RESULTS = Path(__file__).parent / "results"
CANDIDATES = 100
METRICS = ("hr@10", "ndcg@10", "recall@10", "coverage@10", "diversity@10", "diversity_ials@10", "tail_share@10")

#: (step, knob, value, steps): the table's rows after the iALS-only baseline
CONFIGS: list[tuple[str, str, float, list[Any]]] = [
    *[("mmr", "lambda", lam, [MMR(lam)]) for lam in (1.0, 0.9, 0.7, 0.5)],
    *[("mmr (genre similarity)", "lambda", lam, [MMR(lam)]) for lam in (0.7, 0.5)],
    *[("long_tail", "weight", w, [LongTailBoost(w)]) for w in (0.0, 0.1, 0.3, 0.5)],
    *[("category_cap", "max_per", m, [CategoryCap(m)]) for m in (3, 2, 1)],
]


def measure(model: Recommender, split: Split, vectors: Any) -> dict[str, float]:
    """The table's metrics of one (possibly wrapped) model; diversity in genre space and in iALS space."""
    by_genre = evaluate(model, split, ks=(10,), ci=False, segments=False)
    by_ials = evaluate(model, split, ks=(10,), ci=False, segments=False, item_vectors=vectors)
    return {**by_genre.metrics, "diversity_ials@10": by_ials.metrics["diversity@10"]}


def run(threads: int) -> list[dict[str, Any]]:
    split = prepare_split(ExperimentSpec(data="ml-100k", model="ials", split="loo"))
    print(f"ml-100k: {len(split.train):,} train / {len(split.valid or []):,} valid / {len(split.test):,} test")
    start = time.perf_counter()
    model = IALS().fit(split.train, valid=split.valid, options=TrainOptions(threads=threads))
    print(f"iALS fitted in {time.perf_counter() - start:.1f} s")
    vectors = model.item_vectors()
    with_vectors = RerankContext.from_dataset(split.train, item_vectors=vectors, category="genres")
    genre_only = RerankContext.from_dataset(split.train, category="genres")
    rows = []
    for step, knob, value, steps in [("ials only", "", "", []), *CONFIGS]:
        ctx = genre_only if step.startswith("mmr (genre") else with_vectors
        wrapped = RerankedRecommender(model, Reranker(steps), ctx, candidates=CANDIDATES)
        start = time.perf_counter()
        metrics = measure(wrapped if steps else model, split, vectors)
        rows.append(
            {
                "benchmark": "ml-100k",
                "step": step,
                "knob": knob,
                "value": value,
                **{name: round(metrics[name], 4) for name in METRICS},
                "eval_seconds": round(time.perf_counter() - start, 2),
                "candidates": CANDIDATES,
                "threads": threads,
            }
        )
    return rows


def latency(n_items: int = 1_000_000, k: int = 200, calls: int = 1000) -> list[dict[str, Any]]:
    """Median milliseconds of one serving request's re-ranking, per step and chained."""
    rng = np.random.default_rng(0)
    ctx = RerankContext(
        rng.standard_normal((n_items, 64), dtype=np.float32),
        rng.zipf(1.5, n_items).astype(np.float64),
        rng.integers(0, 1000, n_items),
        rng.integers(0, 10_000, n_items),
    )
    items = rng.choice(n_items, k, replace=False)[None]
    scores = -np.sort(-rng.random((1, k), dtype=np.float32), axis=1)
    rules = BusinessRules(rng.choice(n_items, n_items // 10, replace=False), {int(items[0, 5]): 0.5})
    chains = {
        "business_rules": [rules],
        "long_tail 0.3": [LongTailBoost(0.3)],
        "category_cap 3": [CategoryCap(3)],
        "mmr 0.7": [MMR(0.7)],
        "all four": [rules, LongTailBoost(0.3), CategoryCap(3), MMR(0.7)],
    }
    rows = []
    for name, steps in chains.items():
        reranker, seconds = Reranker(steps), []
        for _ in range(calls):
            start = time.perf_counter()
            reranker.apply(items, scores, ctx, 10)
            seconds.append(time.perf_counter() - start)
        rows.append(
            {
                "benchmark": "latency-1m-items",
                "step": name,
                "candidates": k,
                "n": 10,
                "median_ms": round(1000 * statistics.median(seconds), 3),
                "p99_ms": round(1000 * float(np.quantile(seconds, 0.99)), 3),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "rerank.jsonl")
    parser.add_argument("--latency", action="store_true", help="time one serving request instead")
    args = parser.parse_args()
    if args.latency:
        report(latency(), args.out, ("step", "candidates", "n", "median_ms", "p99_ms"))
        return
    report(run(args.threads), args.out, ("step", "knob", "value", *METRICS, "eval_seconds"))


if __name__ == "__main__":
    main()
