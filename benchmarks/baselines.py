"""Baseline accuracy and cost on the public protocols: popularity, item-kNN, iALS and EASE.

Each (protocol, model) cell runs in its own process so that its peak memory is its own. Results go to
benchmarks/results/baselines.{json,md}; the README quotes the Markdown table.

    python -m benchmarks.baselines                 # every protocol and model
    python -m benchmarks.baselines --only ml-100k  # one protocol
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.provenance import provenance

RESULTS = Path(__file__).parent / "results"

#: protocol name -> (data set, split method, split options, what the README calls it)
PROTOCOLS: dict[str, dict] = {
    "ml-100k": {"data": "ml-100k", "split": "loo", "title": "ML-100K, temporal leave-one-out, full ranking"},
    "ml-1m": {
        "data": "ml-1m",
        "split": "user-random",
        "split_options": {"test": 0.1, "valid": 0.1},
        "title": "ML-1M, random per-user 80/10/10, full ranking",
    },
    "amazon-beauty": {"data": "amazon-beauty", "split": "loo", "title": "Amazon Beauty, leave-one-out, full ranking"},
    "ml-1m-ncf": {"data": "ml-1m-ncf", "split": "ncf", "title": "ML-1M NCF protocol (99 given negatives)"},
}

#: Hyperparameters per protocol and model; empty means the model's documented defaults (iALS's were chosen on a
#: validation split of the NCF training data, see docs/models/baselines.md). Nothing here was tuned on test data.
PARAMS: dict[str, dict[str, dict]] = {protocol: {} for protocol in PROTOCOLS}
#: Beauty is far sparser than MovieLens: iALS needs more confidence on the few observed events. Chosen on the
#: validation split among alpha in {3, 30, 100}, reg in {0.005, 0.05, 0.5}, embedding_size in {64, 128}.
PARAMS["amazon-beauty"]["ials"] = {"alpha": 30.0, "embedding_size": 128}
MODELS = ("popularity", "item_knn", "ials", "ease")
COLUMNS = ("hr@10", "ndcg@10", "recall@20", "mrr@10", "coverage@10")


def run_one(protocol: str, model: str, threads: int | None) -> dict:
    """Train and evaluate one cell in this process; returns metrics, timings and peak memory."""
    from shoprec.config import TrainOptions
    from shoprec.experiment import ExperimentSpec, prepare_split, train_and_evaluate

    setup = PROTOCOLS[protocol]
    spec = ExperimentSpec(
        data=setup["data"],
        model=model,
        split=setup["split"],
        split_options=dict(setup.get("split_options", {})),
        params=dict(PARAMS[protocol].get(model, {})),
        ks=(10, 20, 100),
    )
    start = time.perf_counter()
    split = prepare_split(spec)
    load_seconds = time.perf_counter() - start
    result = train_and_evaluate(spec, split, TrainOptions(threads=threads))
    row = dict(result.metrics)
    row.update(
        protocol=protocol,
        load_seconds=round(load_seconds, 3),
        eval_seconds=row.get("timings", {}).get("total"),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        params=spec.params,
        seed=spec.seed,
    )
    return row


def markdown(rows: list[dict]) -> str:
    lines = []
    for protocol, setup in PROTOCOLS.items():
        cells = [r for r in rows if r["protocol"] == protocol]
        if not cells:
            continue
        lines += [f"**{setup['title']}**", ""]
        header = ["model", *COLUMNS, "fit s", "eval s", "peak MB"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in cells:
            values = [f"{r['metrics'][c]:.4f}" if c in r["metrics"] else "–" for c in COLUMNS]
            lines.append(
                f"| {r['model']} | "
                + " | ".join(values)
                + f" | {r['fit_seconds']:.2f} | {r['eval_seconds']:.2f} | {r['peak_rss_mb']:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def merge_with_previous(rows: list[dict]) -> list[dict]:
    """Cells of this run replace the same (protocol, model) cells of the last saved run; the rest are kept."""
    path = RESULTS / "baselines.json"
    if not path.exists():
        return rows
    fresh = {(r["protocol"], r["model"]) for r in rows}
    kept = [r for r in json.loads(path.read_text()) if (r["protocol"], r["model"]) not in fresh]
    order = {p: i for i, p in enumerate(PROTOCOLS)}
    return sorted(kept + rows, key=lambda r: (order[r["protocol"]], MODELS.index(r["model"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(PROTOCOLS), help="protocols to run")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--one", nargs=2, metavar=("PROTOCOL", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one, threads=args.threads)))
        return
    rows = []
    for protocol in args.only or PROTOCOLS:
        for model in args.models:
            cmd = [sys.executable, "-m", "benchmarks.baselines", "--one", protocol, model]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{protocol}/{model} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["provenance"] = provenance(seed=row.get("seed"), threads=args.threads, device="cpu")
            rows.append(row)
            shown = {c: round(row["metrics"].get(c, float("nan")), 4) for c in COLUMNS}
            print(f"{protocol:14s} {model:11s} {shown} fit {row['fit_seconds']:.2f}s", flush=True)
    RESULTS.mkdir(exist_ok=True)
    rows = merge_with_previous(rows)
    (RESULTS / "baselines.json").write_text(json.dumps(rows, indent=2))
    (RESULTS / "baselines.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
