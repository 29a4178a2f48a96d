"""Training speed and memory of every model on ML-1M: examples/s, epoch seconds and peak memory, one row each.

Each model trains `--epochs` (default 2) epochs at its default configuration, without validation, in a
fresh subprocess, so that its peak memory is its own. Columns:

    examples_per_s  examples per second of the last epoch (the first is warm-up), counted as the model's
                    training task counts them: scored (user, item) pairs, positives + sampled negatives,
                    for MF, GMF, MLP, NeuMF and DeepFM (the epoch's negative sampling included); training
                    interactions for the in-batch two-tower; windows of up to max_len positions for SASRec
    epoch_s         seconds of the last epoch (iALS: of one ALS sweep; EASE: of its one closed-form solve)
    peak_rss_mib    peak resident memory during `fit` minus resident memory just before it: what training
                    added on top of the loaded data (Linux: the peak counter VmHWM is reset through
                    /proc/self/clear_refs before `fit`, so data loading's own peak does not count)

`neumf-2048` is the issue's acceptance setting (embedding 64, MLP 128 -> 64, 1,024 positives + 1 negative
per step), the same as `bench_throughput`'s. Data is ML-1M from $SHOPREC_DATA_DIR when present, else a
synthetic set of ML-1M's shape (the `data` column says which).

    SHOPREC_DATA_DIR=../shared/data python -m benchmarks.bench_speed --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_throughput import PARAMS as NEUMF_ACCEPTANCE
from benchmarks.bench_throughput import synthetic_ml1m
from benchmarks.results_io import with_provenance
from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.models.registry import create_model, get_model_class

#: name -> (registered model, parameters beyond the defaults besides epochs)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "mf": ("mf", {}),
    "gmf": ("gmf", {}),
    "mlp": ("mlp", {}),
    "neumf": ("neumf", {}),
    "neumf-2048": ("neumf", {k: v for k, v in NEUMF_ACCEPTANCE.items() if k != "epochs"}),
    "two_tower": ("two_tower", {}),
    "sasrec": ("sasrec", {"patience": None}),
    "deepfm": ("deepfm", {}),
    "ials": ("ials", {}),
    "ease": ("ease", {}),
}
OUT = Path(__file__).parent / "results" / "speed.jsonl"


def load_data(data_dir: Path | None) -> Dataset:
    """ML-1M with its features when `data_dir/ml-1m` exists, else the synthetic stand-in."""
    if data_dir is not None and (data_dir / "ml-1m").is_dir():
        from shoprec.data.sources import load_dataset

        return load_dataset("ml-1m", data_dir=data_dir)  # type: ignore[return-value]
    return synthetic_ml1m()


def _status_mib(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise OSError(f"/proc/self/status has no {field} line")


def reset_peak_rss() -> float:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS and return that RSS, in MiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def measure(name: str, epochs: int, threads: int, data_dir: Path | None) -> dict[str, Any]:
    """Train one model in this process and return its row (see the module docstring)."""
    kind, params = MODELS[name]
    train = load_data(data_dir)
    if "epochs" in get_model_class(kind).config_class.__dataclass_fields__:  # EASE has none: one solve
        params = {"epochs": epochs, **params}
    model = create_model(kind, **params)
    before = reset_peak_rss()
    start = time.perf_counter()
    model.fit(train, options=TrainOptions(threads=threads))
    fit_s = time.perf_counter() - start
    peak = _status_mib("VmHWM") - before
    history = getattr(model, "history_", None)
    if history:
        last = history[-1]
        speed, epoch_s = last.examples_per_s, last.seconds
    else:  # ALS or closed form: no examples in the SGD sense; an epoch is one ALS sweep, or EASE's one solve
        speed, epoch_s = None, fit_s / (epochs if kind == "ials" else 1)
    return {
        "model": name,
        "data": train.name,
        "interactions": len(train),
        "threads": threads,
        "epochs": epochs,
        "examples_per_s": speed,
        "epoch_s": epoch_s,
        "fit_s": fit_s,
        "peak_rss_mib": peak,
    }


def run_isolated(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """`measure` in a fresh interpreter, so that peak memory is this model's alone."""
    command = [sys.executable, "-m", "benchmarks.bench_speed", "--one", name, "--epochs", str(args.epochs)]
    command += ["--threads", str(args.threads)]
    if args.data_dir is not None:
        command += ["--data-dir", str(args.data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"model": name, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    lines = ["| model | examples/s | epoch s | fit s | peak RSS Δ MiB |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | failed: {r['error']} | | | |")
            continue
        speed = "—" if r["examples_per_s"] is None else f"{r['examples_per_s']:,.0f}"
        lines.append(f"| {r['model']} | {speed} | {r['epoch_s']:.2f} | {r['fit_s']:.1f} | {r['peak_rss_mib']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    env_dir = os.environ.get("SHOPREC_DATA_DIR")
    parser.add_argument("--data-dir", type=Path, default=Path(env_dir) if env_dir else None)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--one", choices=list(MODELS), help=argparse.SUPPRESS)  # the subprocess's entry point
    args = parser.parse_args(argv)
    if args.one:
        row = measure(args.one, args.epochs, args.threads, args.data_dir)
        print(json.dumps(row))
        return [row]
    rows = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as log:
        for name in args.models:
            rows.append(run_isolated(name, args))
            log.write(json.dumps(with_provenance(rows[-1])) + "\n")
            log.flush()
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{rows[0].get('data', '?')}, {args.epochs} epochs, {args.threads} threads\n")
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
