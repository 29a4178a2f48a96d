"""`shoprec compare`: several models on one split -> a leaderboard table."""

from __future__ import annotations

from pathlib import Path

import typer

from shoprec.cli.console import console, print_json, report_errors, stdout
from shoprec.cli.data_ref import DATA_HELP, columns_option, event_weights_option, settle_data
from shoprec.cli.paths import check_output
from shoprec.cli.tables import leaderboard_table
from shoprec.exceptions import ConfigError

COLUMNS = ("hr@10", "ndcg@10", "recall@20", "mrr@10", "map@10", "coverage@10", "novelty@10")


def compare(
    data: str = typer.Option(..., "--data", "-d", help=DATA_HELP),
    columns: str = columns_option(),
    event_weights: str = event_weights_option(),
    models: str = typer.Option("popularity,item_knn,ials,ease", "--models", help="Comma-separated model names."),
    split: str = typer.Option("loo", "--split", help="Split method."),
    protocol: str = typer.Option(None, "--protocol", help="full, sampled, or the data set's own."),
    seed: int = typer.Option(42, "--seed", help="Seed for the split and every model."),
    out: Path = typer.Option(None, "--out", "-o", help="Also write the leaderboard as Markdown here."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows."),
    strict: bool = typer.Option(False, "--strict", help="Data warnings (dropped or changed rows) become errors."),
) -> None:
    """Train and evaluate each model on the same split and print a leaderboard."""
    from shoprec.data.sources import strict_data
    from shoprec.evaluation.report import leaderboard_markdown
    from shoprec.experiment import ExperimentSpec, prepare_split, train_and_evaluate

    with report_errors(), strict_data(strict):
        if out is not None:
            check_output(out, "--out", folder=False)
        names = [m.strip() for m in models.split(",") if m.strip()]
        if not names:
            raise ConfigError(f"--models: expected comma-separated model names, got {models!r}")
        data_options: dict = {}
        settle_data(data, data_options, columns, event_weights)
        common = {"data": data, "split": split, "protocol": protocol, "seed": seed, "data_options": data_options}
        specs = [ExperimentSpec.from_dict({**common, "model": name}) for name in names]
        for spec in specs:  # every name and option checked before the first model trains
            spec.validate()
        split_data = prepare_split(specs[0])
        rows = []
        for spec in specs:
            console.print(f"training {spec.model} …")
            rows.append(train_and_evaluate(spec, split_data).metrics)
    if out is not None:
        out.write_text(leaderboard_markdown(rows) + "\n")
    if as_json:
        print_json(rows)
    else:
        stdout.print(leaderboard_table(rows, COLUMNS))
