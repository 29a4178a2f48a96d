"""`shoprec evaluate RUN`: evaluate a saved run on its (recomputed) test split."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from shoprec.cli.console import console, print_json, report_errors
from shoprec.cli.tables import metrics_table
from shoprec.cli.train import HEADLINE
from shoprec.exceptions import ConfigError

#: The parts of a split that can be evaluated.
SPLIT_PARTS = ("test", "valid")


def evaluate(
    run: Path = typer.Argument(..., help="Run directory written by `shoprec train`."),
    k: list[int] = typer.Option(None, "--k", help="Cut-offs (repeatable); default the run's."),
    on: str = typer.Option("test", "--on", help="test or valid."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with a `metrics` map."),
    strict: bool = typer.Option(False, "--strict", help="Data warnings (dropped or changed rows) become errors."),
) -> None:
    """Recompute the run's split and evaluate its saved model (full ranking unless the protocol says otherwise)."""
    import time

    from shoprec.data.sources import strict_data
    from shoprec.evaluation import evaluate as run_evaluation
    from shoprec.experiment import load_run, prepare_split

    with report_errors(), strict_data(strict):
        if on not in SPLIT_PARTS:
            raise ConfigError(f"--on: expected one of {', '.join(SPLIT_PARTS)}, got {on!r}")
        spec, model = load_run(run)
        spec = replace(spec, ks=tuple(k)) if k else spec  # checks the cut-offs before the split is computed
        split = prepare_split(spec)
        start = time.perf_counter()
        result = run_evaluation(model, split, ks=spec.ks, on=on)
        payload = {
            "dataset": spec.data,
            "model": spec.model,
            "split": split.method or spec.split,
            **result.to_dict(),
            "evaluate_seconds": round(time.perf_counter() - start, 4),
        }
    if as_json:
        print_json(payload)
    else:
        console.print(metrics_table(payload, HEADLINE))
