"""Tuning iALS on ML-100K with Optuna on the validation split: defaults vs the best trial, on valid and test.

The search is benchmarks/tune_ials.toml (the file docs/tuning.md shows: temporal leave-one-out, TPE,
NDCG@10). The defaults and the best configuration are each trained on the train part and scored on
validation and on test; the test part is never seen by the search.

    python -m benchmarks.bench_tuning [--trials 20] [--threads 1]

Appends one row (with provenance) to benchmarks/results/tuning.jsonl (--out). Needs the `tune` extra
(Optuna) and SHOPREC_DATA_DIR (or the cache) holding ml-100k/.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks.results_io import RESULTS, append_row
from shoprec.config import TrainOptions
from shoprec.data.dataset import Split
from shoprec.evaluation import evaluate
from shoprec.experiment import ExperimentSpec, prepare_split, train_and_evaluate
from shoprec.tuning import tune
from shoprec.tuning.settings import read_tune_file

TUNE_FILE = Path(__file__).resolve().parent / "tune_ials.toml"
HEADLINE = ("ndcg@10", "hr@10")


def scores(spec: ExperimentSpec, split: Split, options: TrainOptions) -> dict[str, Any]:
    """The spec's model trained on train: its validation and test headline metrics and parameters."""
    run = train_and_evaluate(spec, split, options)
    valid = evaluate(run.model, split, ks=spec.ks, on="valid", beyond_accuracy=False, segments=False, ci=False)
    return {
        "params": {"seed": spec.seed, **spec.params},
        "valid": {k: valid.metrics[k] for k in HEADLINE},
        "test": {k: run.metrics["metrics"][k] for k in HEADLINE},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--file", type=Path, default=TUNE_FILE)
    parser.add_argument("--trials", type=int, default=None, help="override the file's [tune] trials")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "tuning.jsonl", help="results file (appended)")
    args = parser.parse_args()
    spec, settings = read_tune_file(args.file, trials=args.trials)
    split = prepare_split(spec)
    options = TrainOptions(threads=args.threads)
    defaults = scores(spec, split, options)
    start, cpu = time.perf_counter(), time.process_time()
    result = tune(spec, split, settings, options=options)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    tuned = scores(result.spec, split, options)
    row = {
        "data": spec.data,
        "model": spec.model,
        "split": spec.split,
        "metric": settings.metric,
        "trials": settings.trials,
        "sampler": settings.sampler,
        "best_trial": result.best_trial,
        "best_value": result.best_value,
        "search_wall_s": round(wall, 1),
        "search_cpu_s": round(cpu, 1),
        "defaults": defaults,
        "tuned": tuned,
    }
    for name in ("defaults", "tuned"):
        shown = "  ".join(f"{part} {k} {row[name][part][k]:.4f}" for part in ("valid", "test") for k in HEADLINE)
        print(f"{name:>8}: {shown}")
    append_row(args.out, row, seed=spec.seed, threads=args.threads, device="cpu")


if __name__ == "__main__":
    main()
