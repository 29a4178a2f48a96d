"""`make bench` / `bench-deep` / `bench-serve`: benchmark suites, one script after another, each in its own process.

Output of each goes to the terminal and to benchmarks/results/<name>.txt; each script appends its rows
(with provenance) to its results file in benchmarks/results/, and the last step of every suite
(`python -m benchmarks.tables`) regenerates the README and docs tables from those files. Run on an
otherwise idle machine: timings on 2 cores are very sensitive to other load. The deep-model
benchmarks take longer and run with `make bench-deep`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

NCF_OUT = "benchmarks/results/ncf.jsonl"
#: The NCF-protocol rows (seed 1; the README's spread repeats them with --seed 2 and 3): GMF and MLP saved,
#: then NeuMF pretrained from them, MF, and the summary table.
NCF = [
    *(
        (f"ncf_{m}", ["benchmarks.bench_ncf", "run", "--model", m, "--save", f"runs/bench/{m}1", "--out", NCF_OUT])
        for m in ("gmf", "mlp", "mf")
    ),
    (
        "ncf_neumf",
        [
            "benchmarks.bench_ncf",
            "run",
            "--model",
            "neumf",
            "--out",
            NCF_OUT,
            "--params",
            '{"pretrain_dirs": ["runs/bench/gmf1", "runs/bench/mlp1"]}',
        ],
    ),
    ("ncf_table", ["benchmarks.bench_ncf", "table", NCF_OUT]),
]

#: Every suite ends by regenerating the README / docs results tables from the files it wrote.
TABLES = ("tables", ["benchmarks.tables"])

SUITES = {
    "foundation": [
        ("evaluation_speed", ["benchmarks.bench_evaluation", "--repeats", "5"]),
        ("ials_vs_implicit", ["benchmarks.bench_ials_vs_implicit", "--runs", "3", "--threads", "2"]),
        ("sampling", ["benchmarks.bench_sampling", "--repeats", "5", "--threads", "1"]),
        ("tuning", ["benchmarks.bench_tuning", "--threads", "1"]),
        ("baselines", ["benchmarks.baselines"]),
        TABLES,
    ],
    "deep": [
        ("throughput", ["benchmarks.bench_throughput", "--threads", "2"]),
        ("speed", ["benchmarks.bench_speed", "--threads", "1"]),
        ("sasrec", ["benchmarks.bench_sasrec", "--out", "benchmarks/results/sasrec.json"]),
        ("deepfm", ["benchmarks.bench_deepfm", "frappe", "--threads", "2"]),
        *NCF,
        TABLES,
    ],
    "serve": [
        ("serve", ["benchmarks.bench_serve"]),
        ("index", ["benchmarks.bench_index", "--clusters", "1000", "--nprobe", "16", "--threads", "1"]),
        ("index_hard", ["benchmarks.bench_index", "--clusters", "10000", "--nprobe", "16", "64", "--threads", "1"]),
        ("streaming", ["benchmarks.bench_streaming"]),
        ("cold_start", ["benchmarks.bench_cold_start"]),
        ("rerank", ["benchmarks.bench_rerank", "--threads", "2"]),
        ("audience", ["benchmarks.bench_audience", "--data", "synthetic-shop", "ml-100k"]),
        TABLES,
    ],
}


def main() -> None:
    suite = sys.argv[1] if len(sys.argv) > 1 else "foundation"
    RESULTS.mkdir(exist_ok=True)
    failed = []
    for name, module_args in SUITES[suite]:
        print(f"\n=== {name}: python -m {' '.join(module_args)}", flush=True)
        with open(RESULTS / f"{name}.txt", "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", *module_args], stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            if proc.wait() != 0:
                failed.append(name)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
