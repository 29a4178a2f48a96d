"""MF and the NCF family (GMF, MLP, NeuMF) on the ML-1M protocol of He et al. 2017.

Each test user's held-out item is ranked among NCF's 99 given negatives through `model.score`
(`evaluation.sampled_ranking`, ties pessimistic); HR@10 and NDCG@10 as in the paper. Early stopping and the
choice between configs use a validation set only: one random training item per user, held out from
training (full-catalog NDCG@10 through `recommend`). The test file is touched once, after fitting.

    python -m benchmarks.bench_ncf run --model mf --seed 1 --out runs/ncf.jsonl      # one fit (preset params)
    python -m benchmarks.bench_ncf run --model neumf --params '{"pretrain_dirs": ["a", "b"]}' ...
    python -m benchmarks.bench_ncf table runs/ncf.jsonl                              # mean ± spread per config

`--save DIR` keeps the fitted model (GMF/MLP artifacts feed NeuMF's `pretrain_dirs`); `--cache FILE.npz`
stores the parsed split so that repeated runs skip parsing. Needs SHOPREC_DATA_DIR (or --data-dir) with
ml-1m-ncf/ unless the cache exists.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.provenance import provenance
from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Interactions, Split
from shoprec.data.split import leave_one_out
from shoprec.data.vocabulary import Vocabulary
from shoprec.evaluation import sampled_ranking
from shoprec.models.mf import MF
from shoprec.models.ncf import GMF, MLP, NeuMF

#: The configurations measured in docs/models/mf.md and docs/models/ncf.md. MF's was the best of four on the
#: validation holdout (seed 1); GMF/MLP feed NeuMF's `pretrain_dirs` (pass them with --params).
PRESETS: dict[str, dict[str, Any]] = {
    "mf": {"embedding_size": 192, "epochs": 14, "batch_size": 2048, "negatives": 8, "learning_rate": 0.005,
           "reg": 0.01, "patience": 3},
    "gmf": {"embedding_size": 16, "epochs": 12, "batch_size": 1024, "negatives": 4, "learning_rate": 0.005,
            "patience": 3},
    "mlp": {"embedding_size": 16, "layers": [64, 32, 16], "epochs": 12, "batch_size": 1024, "negatives": 4,
            "learning_rate": 0.005, "patience": 3},
    "neumf": {"embedding_size": 16, "layers": [64, 32, 16], "epochs": 8, "batch_size": 1024, "negatives": 4,
              "learning_rate": 0.0005, "patience": 3},
}  # fmt: skip


#: The models compared (imported directly: the registry would import every model's dependencies).
MODELS = {"mf": MF, "gmf": GMF, "mlp": MLP, "neumf": NeuMF}


def load_split(data_dir: Path, cache: Path | None) -> Split:
    """The NCF split through `load_ncf_split`, or the arrays cached from an earlier load."""
    if cache is not None and cache.is_file():
        return _from_arrays(dict(np.load(cache)))
    from shoprec.data.sources import load_ncf_split

    split = load_ncf_split(data_dir / "ml-1m-ncf" / "ml-1m.train.rating")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        train, test = split.train.interactions, split.test.interactions
        np.savez(
            cache, train_users=train.users, train_items=train.items, test_users=test.users, test_items=test.items,
            negative_users=split.test_negative_users, negatives=split.test_negatives,
            shape=np.array([split.train.n_users, split.train.n_items]),
        )  # fmt: skip
    return split


def _from_arrays(a: dict[str, np.ndarray]) -> Split:
    n_users, n_items = (int(v) for v in a["shape"])
    users, items = Vocabulary(np.arange(n_users).astype(str)), Vocabulary(np.arange(n_items).astype(str))

    def part(name: str, u: np.ndarray, i: np.ndarray) -> Dataset:
        return Dataset(name=name, interactions=Interactions.build(u, i), users=users, items=items)

    return Split(
        train=part("ml-1m-ncf/train", a["train_users"], a["train_items"]),
        test=part("ml-1m-ncf/test", a["test_users"], a["test_items"]),
        protocol="ncf",
        test_negative_users=a["negative_users"],
        test_negatives=a["negatives"],
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Fit one model on train minus the validation holdout, early-stopped on it; then score the test file."""
    split = load_split(args.data_dir, args.cache)
    holdout = leave_one_out(split.train, valid=False, by="random", seed=0)  # fixed: the same for every run
    params = {**PRESETS.get(args.model, {}), **json.loads(args.params), "seed": args.seed}
    model = MODELS[args.model](**params)
    options = TrainOptions(device=args.device, threads=args.threads, progress=args.progress, log_path=args.log)
    start = time.perf_counter()
    model.fit(holdout.train, valid=holdout.test, options=options)
    fit_s = time.perf_counter() - start
    test = sampled_ranking(model, split.test, split.test_negative_users, split.test_negatives, ks=(10,))
    history = model.history_  # type: ignore[attr-defined]
    best = max(history, key=lambda r: r.metrics.get("ndcg@10", -1.0))
    record = {
        "model": args.model,
        "params": {k: v for k, v in params.items() if k != "seed"},
        "seed": args.seed,
        "device": args.device,
        "epochs_run": len(history),
        "best_epoch": best.epoch,
        "valid_hr@10": best.metrics["hr@10"],
        "valid_ndcg@10": best.metrics["ndcg@10"],
        "test_hr@10": float(np.nanmean(test.per_user["hr@10"])),
        "test_ndcg@10": float(np.nanmean(test.per_user["ndcg@10"])),
        "fit_s": round(fit_s, 1),
        "examples_per_s": round(statistics.median(r.examples_per_s for r in history)),
        "provenance": provenance(seed=args.seed, threads=args.threads, device=args.device),
    }
    if args.save is not None:
        model.save(args.save)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    print(json.dumps(record, sort_keys=True))
    return record


def table(files: list[Path]) -> str:
    """Markdown: one row per (model, params), mean ± spread (half the range) over seeds."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for file in files:
        for line in file.read_text().splitlines():
            record = json.loads(line)
            groups[f"{record['model']} {json.dumps(record['params'], sort_keys=True)}"].append(record)
    lines = [
        "| model | params | seeds | valid NDCG@10 | test HR@10 | test NDCG@10 | best epoch | fit s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, records in sorted(groups.items()):
        model, params = key.split(" ", 1)
        cells = [model, f"`{params}`", str(len(records)), _stat(records, "valid_ndcg@10")]
        cells += [_stat(records, "test_hr@10"), _stat(records, "test_ndcg@10")]
        cells += [_stat(records, "best_epoch", 0), _stat(records, "fit_s", 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best_params(files: list[Path], model: str) -> dict[str, Any]:
    """The params of `model` with the highest mean validation NDCG@10 (never looks at test metrics)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for file in files:
        for record in map(json.loads, file.read_text().splitlines()):
            if record["model"] == model:
                scores[json.dumps(record["params"], sort_keys=True)].append(record["valid_ndcg@10"])
    return json.loads(max(scores, key=lambda k: statistics.fmean(scores[k])))


def _stat(records: list[dict[str, Any]], key: str, digits: int = 4) -> str:
    values = [float(r[key]) for r in records]
    mean, spread = statistics.fmean(values), (max(values) - min(values)) / 2
    return f"{mean:.{digits}f} ± {spread:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("run", help="fit one model and score the test file")
    fit.add_argument("--model", required=True, choices=sorted(PRESETS))
    fit.add_argument("--params", default="{}", help="JSON overriding the preset")
    fit.add_argument("--seed", type=int, default=1)
    fit.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SHOPREC_DATA_DIR", "../shared/data")))
    fit.add_argument("--cache", type=Path, default=None, help="npz of the parsed split (written when missing)")
    fit.add_argument("--device", default="cpu")
    fit.add_argument("--threads", type=int, default=None)
    fit.add_argument("--progress", action="store_true")
    fit.add_argument("--log", default=None, help="per-epoch JSON-lines log")
    fit.add_argument("--save", type=Path, default=None, help="save the fitted model here")
    fit.add_argument("--out", type=Path, default=None, help="append the result record to this JSON-lines file")
    summary = commands.add_parser("table", help="summarise result files")
    summary.add_argument("files", nargs="+", type=Path)
    choose = commands.add_parser("best", help="print the params JSON with the best validation NDCG@10")
    choose.add_argument("--model", required=True)
    choose.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args)
    elif args.command == "best":
        print(json.dumps(best_params(args.files, args.model)))
    else:
        print(table(args.files))


if __name__ == "__main__":
    main()
