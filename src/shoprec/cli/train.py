"""`shoprec train`: fit a model on a data set's split, evaluate it and write a run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from shoprec.cli.console import console, parse_params, print_json, report_errors
from shoprec.cli.data_ref import DATA_HELP, columns_option, event_weights_option, settle_data
from shoprec.cli.paths import check_output
from shoprec.cli.tables import metrics_table

HEADLINE = ("hr@10", "ndcg@10", "recall@20", "mrr@10", "coverage@10")


def train(
    data: str = typer.Option(None, "--data", "-d", help=DATA_HELP),
    columns: str = columns_option(),
    event_weights: str = event_weights_option(),
    model: str = typer.Option(None, "--model", "-m", help="Model name, e.g. popularity, item_knn, ials, ease."),
    split: str = typer.Option(None, "--split", help="loo, loo-random, random, user-random, temporal, ..."),
    protocol: str = typer.Option(None, "--protocol", help="full (rank the whole catalog), sampled, or ncf."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to write (model, spec, metrics)."),
    config: Path = typer.Option(None, "--config", "-c", help="TOML config with [data] [split] [model] tables."),
    param: list[str] = typer.Option(None, "--param", "-p", help="Model hyperparameter key=value (repeatable)."),
    seed: int = typer.Option(None, "--seed", help="Seed for the split and the model."),
    implicit_threshold: float = typer.Option(None, "--implicit-threshold", help="Keep ratings >= this as positives."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for training (runtime, not a hyperparameter)."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:N or mps (runtime option)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Data warnings (dropped or changed rows) become errors."),
) -> None:
    """Train MODEL on DATA, evaluate on the held-out test part and save everything under --out."""
    from shoprec.config import TrainOptions
    from shoprec.data.sources import strict_data
    from shoprec.experiment import ExperimentSpec, prepare_split, save_run, train_and_evaluate

    with report_errors(), strict_data(strict):
        check_output(out, "--out", folder=True)
        overrides = {
            "data": data,
            "model": model,
            "split": split,
            "protocol": protocol,
            "seed": seed,
            "implicit_threshold": implicit_threshold,
        }
        if config is not None:
            spec = ExperimentSpec.from_toml(config, **overrides)
        else:
            spec = ExperimentSpec.from_dict({k: v for k, v in overrides.items() if v is not None})
        spec.params.update(parse_params(param))
        spec.validate()
        settle_data(spec.data, spec.data_options, columns, event_weights)
        options = TrainOptions.from_env(threads=threads, device=device, progress=progress)
        with console.status(f"loading {spec.data} and splitting ({spec.split})"):
            split_data = prepare_split(spec)
        console.print(f"training {spec.model} on {len(split_data.train):,} interactions")
        result = train_and_evaluate(spec, split_data, options)
        save_run(result, out)
    if as_json:
        print_json(result.metrics)
    else:
        console.print(metrics_table(result.metrics, HEADLINE))
        console.print(f"fit {result.fit_seconds:.2f}s; run saved to {out}")
