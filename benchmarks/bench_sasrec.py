"""SASRec on Amazon Beauty: leave-one-out, full ranking over all items, HR@10 and NDCG@10.

Protocol (as in SASRec and SASRec-CE): each user's last item is test, the one before it validation.
The model trains on the rest with early stopping on validation NDCG@10 (best epoch's weights kept); the
test item is then predicted from train + validation events (`use_history`), the validation item excluded
from the ranking. The test numbers with the training history alone are printed too.

    python -m benchmarks.bench_sasrec --device cuda --seeds 0 1 2     # the full benchmark (GPU)
    python -m benchmarks.bench_sasrec --epochs 1 --threads 2          # one CPU epoch: timing only
    python -m benchmarks.bench_sasrec --baselines-only --out benchmarks/results/sasrec_baselines.json

`--baselines` (default: popularity, item_knn, ials, ease) fits each baseline on train + validation and
ranks the test item, so that every model predicts from the same history as SASRec (train + validation);
`--baselines-only` skips SASRec. The written JSON carries a provenance record (commit, date, machine).

Needs SHOPREC_DATA_DIR (or --data-dir) holding amazon-beauty/ (S3-Rec's Beauty.txt).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.baselines import PARAMS
from benchmarks.provenance import provenance
from shoprec.config import TrainOptions
from shoprec.data.dataset import Interactions, Split
from shoprec.data.sources import load_dataset
from shoprec.data.split import split_dataset
from shoprec.evaluation import evaluate
from shoprec.models import create_model
from shoprec.models.sasrec import SASRec, SASRecConfig

HEADLINE = ("hr@10", "ndcg@10")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="amazon-beauty")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=20)
    p.add_argument("--loss", default="ce", choices=["ce", "bce"])
    p.add_argument("--negatives", type=int, default=1)
    p.add_argument("--embedding-size", type=int, default=64)
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--num-blocks", type=int, default=2)
    p.add_argument("--num-heads", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--log-dir", default=None, help="write each seed's per-epoch JSON lines here")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--baselines", nargs="*", default=["popularity", "item_knn", "ials", "ease"])
    p.add_argument("--baselines-only", action="store_true", help="fit only the baselines (no SASRec)")
    return p.parse_args()


def config(args: argparse.Namespace, seed: int) -> SASRecConfig:
    return SASRecConfig(
        embedding_size=args.embedding_size,
        max_len=args.max_len,
        num_blocks=args.num_blocks,
        num_heads=args.num_heads,
        dropout=args.dropout,
        loss=args.loss,
        negatives=args.negatives,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        patience=args.patience,
        seed=seed,
    )


def measure(model: SASRec, split: Split) -> dict[str, float]:
    result = evaluate(model, split, ks=(10,), beyond_accuracy=False, segments=False, ci=False)
    return {name: result.metrics[name] for name in HEADLINE}


def run_seed(args: argparse.Namespace, split: Split, seed: int) -> dict[str, Any]:
    """Fit one seed, print its epochs, and measure test HR/NDCG@10 with both histories."""
    log = None if args.log_dir is None else str(Path(args.log_dir) / f"sasrec_seed{seed}.jsonl")
    options = TrainOptions(device=args.device, threads=args.threads, log_path=log)
    model = SASRec(config(args, seed))
    start = time.perf_counter()
    model.fit(split.train, valid=split.valid, options=options)
    fit_seconds = time.perf_counter() - start
    for r in model.history_:
        shown = "  ".join(f"{k} {r.metrics[k]:.4f}" for k in HEADLINE if k in r.metrics)
        print(f"seed {seed} epoch {r.epoch:3d}  loss {r.loss:.4f}  train {r.seconds:6.2f}s  {shown}", flush=True)
    best = max(model.history_, key=lambda r: r.metrics.get("ndcg@10", float("-inf")))
    train_only = measure(model, split)
    with_valid = measure(model.use_history(split.train, split.valid), split)
    row = {
        "seed": seed,
        "epochs_run": len(model.history_),
        "best_epoch": best.epoch,
        "valid": {k: best.metrics.get(k) for k in HEADLINE},
        "test_train_history": train_only,
        "test": with_valid,
        "epoch_seconds": statistics.median(r.seconds for r in model.history_),
        "fit_seconds": fit_seconds,
    }
    print(json.dumps(row), flush=True)
    return row


def run_baseline(args: argparse.Namespace, split: Split, name: str) -> dict[str, Any]:
    """Fit a baseline on train + validation (SASRec's test-time history) and measure test HR/NDCG@10."""
    assert split.valid is not None
    history = split.train.with_interactions(Interactions.concat([split.train.interactions, split.valid.interactions]))
    params = {"seed": args.seeds[0], **PARAMS.get(args.dataset, {}).get(name, {})}
    start = time.perf_counter()
    model = create_model(name, **params).fit(history, options=TrainOptions(device="cpu", threads=args.threads))
    row = {"model": name, "params": params, "test": measure(model, split), "fit_seconds": time.perf_counter() - start}
    print(json.dumps(row), flush=True)
    return row


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of the test metrics (train + valid history)."""
    out: dict[str, Any] = {}
    for name in HEADLINE:
        values = [r["test"][name] for r in rows]
        out[name] = statistics.mean(values)
        out[f"{name}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    out["epoch_seconds"] = statistics.median(r["epoch_seconds"] for r in rows)
    return out


def main() -> None:
    args = parse_args()
    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    split = split_dataset(dataset, "loo")
    print(f"{args.dataset}: {dataset.describe()}; test users {len(split.test)}", flush=True)
    baselines = [run_baseline(args, split, name) for name in args.baselines]
    result: dict[str, Any] = {"dataset": args.dataset, "device": args.device, "args": vars(args)}
    result["baselines"] = baselines
    if not args.baselines_only:
        rows = [run_seed(args, split, seed) for seed in args.seeds]
        result.update(runs=rows, **summary(rows))
        print(
            f"SASRec ({args.loss}) on {args.dataset}, {len(rows)} seed(s): "
            f"HR@10 {result['hr@10']:.4f} ± {result['hr@10_std']:.4f}  "
            f"NDCG@10 {result['ndcg@10']:.4f} ± {result['ndcg@10_std']:.4f}  "
            f"median epoch {result['epoch_seconds']:.2f}s on {args.device}"
        )
    result["provenance"] = provenance(seed=args.seeds[0], threads=args.threads, device=args.device)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
