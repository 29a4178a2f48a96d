"""`shoprec evaluate RUN`: evaluate a saved run on its (recomputed) test split."""

from __future__ import annotations

from pathlib import Path

import typer

from shoprec.cli.console import console, print_json, report_errors
from shoprec.cli.tables import metrics_table
from shoprec.cli.train import HEADLINE


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
        spec, model = load_run(run)
        split = prepare_split(spec)
        start = time.perf_counter()
        result = run_evaluation(model, split, ks=tuple(k) if k else spec.ks, on=on)
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
