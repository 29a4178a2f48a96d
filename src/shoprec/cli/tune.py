"""`shoprec tune SPEC --out DIR`: Optuna search on the validation split; writes best.toml and trials.csv."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from shoprec.cli.console import console, print_json, report_errors
from shoprec.cli.data_ref import DATA_HELP, columns_option, event_weights_option, settle_data
from shoprec.cli.paths import check_output
from shoprec.exceptions import ConfigError

if TYPE_CHECKING:
    from shoprec.tuning import TrialRow


def tune(
    spec_file: Path = typer.Argument(..., help="TOML: a `shoprec train` config plus [tune] and [tune.space]."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for best.toml and trials.csv."),
    data: str = typer.Option(None, "--data", "-d", help="Replaces the spec's [data]. " + DATA_HELP),
    columns: str = columns_option(),
    event_weights: str = event_weights_option(),
    trials: int = typer.Option(None, "--trials", "-n", help="Number of trials (overrides tune.trials)."),
    timeout_minutes: float = typer.Option(None, "--timeout-minutes", help="Stop starting trials after this."),
    storage: str = typer.Option(None, "--storage", help="Optuna storage URL to resume, e.g. sqlite:///study.db."),
    study_name: str = typer.Option(None, "--study-name", help="Study name in the storage (default from the spec)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for training (runtime, not a hyperparameter)."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:N or mps (runtime option)."),
    as_json: bool = typer.Option(False, "--json", help="Print the best value, params and files as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Data warnings (dropped or changed rows) become errors."),
) -> None:
    """Search the [tune.space] of SPEC_FILE, scoring each trial on validation data only (never test)."""
    from shoprec.config import TrainOptions
    from shoprec.data.sources import strict_data
    from shoprec.experiment import prepare_split
    from shoprec.tuning import import_optuna, read_tune_file, write_outputs
    from shoprec.tuning import tune as run_tune

    with report_errors(), strict_data(strict):
        check_output(out, "--out", folder=True)
        options = TrainOptions.from_env(threads=threads, device=device, progress=False)
        spec, settings = read_tune_file(spec_file, trials=trials, timeout_minutes=timeout_minutes)
        if data is not None:
            spec.data, spec.data_options = data, {}
        settle_data(spec.data, spec.data_options, columns, event_weights)
        optuna = import_optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial below instead
        if storage is not None:
            check_storage(optuna, storage)
        with console.status(f"loading {spec.data} and splitting ({spec.split})"):
            split = prepare_split(spec)

        def show(row: TrialRow) -> None:
            value = "-" if row.value is None else f"{row.value:.4f}"
            seconds = 0.0 if row.seconds is None else row.seconds
            console.print(
                f"trial {row.number} {row.state.lower()}: {settings.metric}={value} ({seconds:.1f}s) {row.params}"
            )

        console.print(
            f"tuning {spec.model} on {spec.data}: {settings.trials} trials, {settings.direction} {settings.metric}"
        )
        result = run_tune(spec, split, settings, options=options, storage=storage, study_name=study_name, on_trial=show)
        best, trials_csv = write_outputs(result, out)
    if as_json:
        payload = {
            "metric": settings.metric,
            "direction": settings.direction,
            "best_value": result.best_value,
            "best_trial": result.best_trial,
            "best_params": result.spec.params,
            "trials": len(result.trials),
            "carved_validation": result.carved_validation,
            "files": [str(best), str(trials_csv)],
        }
        print_json(payload)
        return
    console.print(_top_table(result.top(5), [d.name for d in settings.space], settings.metric))
    console.print(
        f"best {settings.metric} = {result.best_value:.4f} (trial {result.best_trial}); wrote {best}, {trials_csv}"
    )
    console.print(f"train it: shoprec train --config {best} --out <run>")


def check_storage(optuna: Any, storage: str) -> None:
    """Open the storage once before any work, so a bad URL is a one-line ConfigError rather than a failure
    of whatever database driver the URL names (each raises its own exception types)."""
    try:
        optuna.storages.get_storage(storage)
    except Exception as exc:  # any driver's error means the URL cannot be used
        reason = " ".join(str(exc).split("(Background on this error")[0].split())
        raise ConfigError(f"--storage {storage!r}: cannot open it ({type(exc).__name__}: {reason})") from None


def _top_table(rows: list[TrialRow], names: list[str], metric: str) -> Table:
    """The best trials, best first, one column per searched parameter."""
    table = Table(title="top trials (validation)")
    for column in ("trial", *names, metric, "seconds"):
        table.add_column(column, justify="right")
    for row in rows:
        params = [_short(row.params.get(n)) for n in names]
        table.add_row(str(row.number), *params, f"{row.value:.4f}", f"{row.seconds or 0.0:.1f}")
    return table


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
