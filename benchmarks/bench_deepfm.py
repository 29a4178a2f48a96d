"""DeepFM on click-through-rate data, beside logistic regression and FM (DeepFM with parts switched off).

frappe   Train: rebuilt from the original log (`rebuild_frappe_train`: the log minus the held-out positives,
         2 fresh negatives per positive, NFM's feature ids), since NFM's train file is not public here.
         Valid: NFM's validation file (early stopping on AUC). Test: NFM's test file, touched once.
         Reference: BARS DeepFM on Frappe_x1, test AUC 0.9839.
ml-100k  Ratings >= 4 are clicks; every rating is a row with user id, item id, the user's age, gender,
         occupation, age group and zip prefix, and the movie's genres and year; rows shuffled 80/10/10.

    python -m benchmarks.bench_deepfm frappe --models deepfm              # one row per model
    python -m benchmarks.bench_deepfm ml-100k --models lr fm deepfm --epochs 30
    python -m benchmarks.bench_deepfm frappe --device cuda --params '{"reg": 0.0001}'

Rows are printed as a Markdown table and appended as JSON lines to --out. Needs SHOPREC_DATA_DIR (or
--data-dir) holding frappe/ and ml-100k/.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.results_io import with_provenance
from shoprec.config import TrainOptions
from shoprec.data.sources import load_dataset
from shoprec.data.sources.ctr import (
    FRAPPE_FIELDS,
    LabelledRows,
    labelled_from_ratings,
    load_libfm,
    rebuild_frappe_train,
)
from shoprec.models.deepfm import DeepFMClassifier

RESULTS = Path(__file__).parent / "results"
#: LR and FM are DeepFM with the deep and / or second-order parts switched off.
FLAGS: dict[str, dict[str, bool]] = {"lr": {"fm": False, "dnn": False}, "fm": {"dnn": False}, "deepfm": {}}
#: Hyperparameters per benchmark and model, chosen on the validation rows (docs/models/deepfm.md). DeepFM
#: is BARS' Frappe_x1 config (batch norm, FuxiCTR's embedding regulariser 0.05, learning rate / 10 on a
#: plateau) on both; LR and FM lose accuracy under that regulariser and converge faster with a larger step.
PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "frappe": {
        "all": {
            "embedding_size": 10,
            "layers": [400, 400, 400],
            "dropout": 0.2,
            "batch_size": 4096,
            "plateau_decay": 0.1,
        },
        "lr": {"learning_rate": 0.01},
        "fm": {"learning_rate": 0.01},
        "deepfm": {"batch_norm": True, "embedding_reg": 0.05},
    },
    "ml-100k": {
        "all": {"embedding_size": 16, "layers": [200, 200], "dropout": 0.2, "batch_size": 1024, "plateau_decay": 0.1},
        "lr": {"learning_rate": 0.01},
        "fm": {"learning_rate": 0.01, "embedding_reg": 0.0001},
        "deepfm": {"batch_norm": True, "embedding_reg": 0.05},
    },
}


def frappe_rows(data_dir: Path, seed: int) -> tuple[LabelledRows, LabelledRows, LabelledRows]:
    folder = data_dir / "frappe"
    valid = load_libfm(folder / "libfm_nfm" / "frappe.validation.libfm", fields=FRAPPE_FIELDS)
    test = load_libfm(folder / "libfm_nfm" / "frappe.test.libfm", fields=FRAPPE_FIELDS)
    train = rebuild_frappe_train(folder / "original_baltrunas" / "frappe.csv", [valid, test], seed=seed)
    return train, valid, test


def movielens_rows(data_dir: Path, seed: int) -> tuple[LabelledRows, LabelledRows, LabelledRows]:
    rows = labelled_from_ratings(load_dataset("ml-100k", data_dir=data_dir), threshold=4.0)  # type: ignore[arg-type]
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = [int(0.8 * len(rows)), int(0.9 * len(rows))]
    return rows.take(order[: cut[0]]), rows.take(order[cut[0] : cut[1]]), rows.take(order[cut[1] :])


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Fit each requested model on the benchmark's train rows and evaluate it on the test rows."""
    start = time.perf_counter()
    train, valid, test = (frappe_rows if args.benchmark == "frappe" else movielens_rows)(args.data_dir, args.seed)
    print(f"{args.benchmark}: {len(train):,} train / {len(valid):,} valid / {len(test):,} test rows, "
          f"{train.labels.mean():.3f} clicks; read in {time.perf_counter() - start:.1f}s")  # fmt: skip
    options = TrainOptions(device=args.device, threads=args.threads, progress=args.progress, log_path=args.log)
    rows = []
    for name in args.models:
        preset = PARAMS[args.benchmark]
        params = {
            **preset["all"],
            **preset[name],
            **FLAGS[name],
            "epochs": args.epochs,
            "seed": args.seed,
            **args.params,
        }
        fit_start = time.perf_counter()
        model = DeepFMClassifier(**params).fit(train, valid, options=options)
        seconds = time.perf_counter() - fit_start
        best = max(model.history_, key=lambda r: r.metrics["auc"])
        rows.append(
            {
                "benchmark": args.benchmark,
                "model": name,
                **{f"test_{k}": round(v, 4) for k, v in model.evaluate(test).items()},
                "valid_auc": round(best.metrics["auc"], 4),
                "best_epoch": best.epoch + 1,
                "epochs_run": len(model.history_),
                "fit_seconds": round(seconds, 1),
                "seconds_per_epoch": round(seconds / len(model.history_), 1),
                "device": args.device,
                "threads": args.threads,
                "params": params,
            }
        )
        print(json.dumps(rows[-1]))
    return rows


def report(rows: list[dict[str, Any]], out: Path, columns: tuple[str, ...]) -> None:
    """Append the rows to `out` (JSON lines) and print them as a Markdown table."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh:
        fh.writelines(json.dumps(with_provenance(row)) + "\n" for row in rows)
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


def common_arguments(parser: argparse.ArgumentParser, out: Path) -> None:
    """Options every model benchmark shares: data folder, epochs, seed, runtime, extra params, output."""
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SHOPREC_DATA_DIR", "../shared/data")))
    parser.add_argument("--epochs", type=int, default=30, help="at most this many (early stopping on validation)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (runtime only)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--params", type=json.loads, default={}, help="JSON overrides of the model parameters")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--log", help="JSON-lines file of per-epoch loss, metrics and seconds")
    parser.add_argument("--out", type=Path, default=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("benchmark", choices=sorted(PARAMS))
    parser.add_argument("--models", nargs="+", choices=list(FLAGS), default=list(FLAGS))
    common_arguments(parser, RESULTS / "deepfm.jsonl")
    args = parser.parse_args()
    columns = ("benchmark", "model", "test_auc", "test_log_loss", "valid_auc", "best_epoch", "seconds_per_epoch")
    report(run(args), args.out, columns)


if __name__ == "__main__":
    main()
