"""shoprec iALS against the `implicit` library's AlternatingLeastSquares on the ML-1M NCF protocol.

Each test user's held-out item is ranked among the 99 negatives NCF gives (`evaluation.sampled_ranking`,
through `score`); HR@10 and NDCG@10 as in He et al. 2017. Both libraries fit with the same threads,
factors, reg, alpha and iterations. implicit's confidence is `alpha_implicit · x` where ours is
`1 + alpha · x`, so implicit gets alpha + 1 (the same objective on 0/1 data); implicit's reg is constant,
so the like-for-like shoprec row uses reg_exponent=0. The last row is shoprec's default config
(frequency-scaled reg, Rendle et al. 2021). Accuracy is the mean over the runs (seeds seed..seed+runs-1),
fit time the median; runs are interleaved across the rows.

    python -m benchmarks.bench_ials_vs_implicit            # 3 fits each
    python -m benchmarks.bench_ials_vs_implicit --quick    # 1 fit each, 4 epochs

Appends one row per entry (with provenance) to benchmarks/results/ials_vs_implicit.jsonl (--out).
Requires the `bench` extra (implicit) and SHOPREC_DATA_DIR (or --data-dir) holding ml-1m-ncf/.
"""

from __future__ import annotations

import os

# OpenMP threads spin at every barrier by default, which on a shared machine burns the cores the other
# thread needs. Both libraries run on OpenMP, so both get the same policy; export OMP_WAIT_POLICY=ACTIVE
# to time the default instead. It must be set before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.results_io import RESULTS, append_row
from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Split
from shoprec.data.sources import load_ncf_split
from shoprec.evaluation import sampled_ranking
from shoprec.models.ials import IALS, IALSConfig

#: Parameters of the like-for-like rows: implicit's objective (constant reg), our default size and alpha.
SAME_OBJECTIVE = {"reg": 0.1, "reg_exponent": 0.0, "solver": "cg", "cg_steps": 3}


class ImplicitScorer:
    """`score(users, items)` over implicit's factors, so both libraries go through the same protocol code."""

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        self.user_factors, self.item_factors = user_factors, item_factors

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.einsum("ud,ucd->uc", self.user_factors[users], self.item_factors[items])


def fit_shoprec(train: Dataset, params: dict[str, Any], threads: int) -> tuple[IALS, float]:
    """The fitted model and its fit seconds."""
    model = IALS(IALSConfig(**params))
    start = time.perf_counter()
    model.fit(train, options=TrainOptions(threads=threads))
    return model, time.perf_counter() - start


def fit_implicit(train: Dataset, params: dict[str, Any], threads: int) -> tuple[ImplicitScorer, float]:
    """implicit's CPU AlternatingLeastSquares (conjugate gradient, 3 steps) on the same objective."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # implicit's own advice: it parallelises per user
        model = AlternatingLeastSquares(
            factors=params["embedding_size"],
            regularization=params["reg"],
            alpha=1.0 + params["alpha"],
            iterations=params["epochs"],
            num_threads=threads,
            random_state=params["seed"],
        )
        start = time.perf_counter()
        model.fit(train.to_csr(values="ones"), show_progress=False)
        seconds = time.perf_counter() - start
    return ImplicitScorer(model.user_factors, model.item_factors), seconds


def compare(split: Split, entries: list[tuple[str, Callable, dict]], runs: int, threads: int) -> list[dict[str, Any]]:
    """Fit every (name, fit, params) entry `runs` times with seeds seed, seed+1, ...; mean HR@10 / NDCG@10 and
    median fit seconds. Runs are interleaved (A, B, C, A, B, C, ...) so that a shared machine's load falls
    on every entry alike."""
    measured: dict[str, dict[str, list[float]]] = {name: {"hr": [], "ndcg": [], "s": []} for name, _, _ in entries}
    for offset in range(runs):
        for name, fit, params in entries:
            model, seconds = fit(split.train, {**params, "seed": params["seed"] + offset}, threads)
            run = sampled_ranking(model, split.test, split.test_negative_users, split.test_negatives, ks=(10,))
            measured[name]["hr"].append(np.nanmean(run.per_user["hr@10"]))
            measured[name]["ndcg"].append(np.nanmean(run.per_user["ndcg@10"]))
            measured[name]["s"].append(seconds)
    return [
        {"model": name, "hr@10": np.mean(m["hr"]), "ndcg@10": np.mean(m["ndcg"]), "fit_s": statistics.median(m["s"])}
        for name, m in measured.items()
    ]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SHOPREC_DATA_DIR", "../shared/data")))
    parser.add_argument("--quick", action="store_true", help="one fit each, 4 epochs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "ials_vs_implicit.jsonl", help="results file (appended)")
    args = parser.parse_args(argv)
    split = load_ncf_split(args.data_dir / "ml-1m-ncf" / "ml-1m.train.rating")
    runs = 1 if args.quick else args.runs
    defaults = IALSConfig().to_dict() | ({"epochs": 4} if args.quick else {})
    same = defaults | SAME_OBJECTIVE
    entries = [
        ("implicit ALS (cg)", fit_implicit, same),
        ("shoprec iALS (cg, same objective)", fit_shoprec, same),
        ("shoprec iALS (defaults)", fit_shoprec, defaults),
    ]
    rows = compare(split, entries, runs, args.threads)
    policy = os.environ["OMP_WAIT_POLICY"]
    print(f"ML-1M NCF, 99 negatives; threads={args.threads}; OMP_WAIT_POLICY={policy}; {runs} run(s)")
    print(f"like-for-like params: {same}")
    print(f"{'model':<36} {'HR@10':>7} {'NDCG@10':>8} {'fit s':>7} {'vs implicit':>11}")
    for row in rows:
        ratio = row["fit_s"] / rows[0]["fit_s"]
        print(f"{row['model']:<36} {row['hr@10']:>7.4f} {row['ndcg@10']:>8.4f} {row['fit_s']:>7.2f} {ratio:>10.2f}x")
    from importlib.metadata import version

    setup = {"runs": runs, "quick": args.quick, "omp_wait_policy": policy, "implicit": version("implicit")}
    for row, (_, _, params) in zip(rows, entries, strict=True):
        record = {**setup, **{k: float(v) for k, v in row.items() if k != "model"}, "model": row["model"]}
        append_row(args.out, {**record, "params": params}, seed=params["seed"], threads=args.threads, device="cpu")
    return rows


if __name__ == "__main__":
    main()
