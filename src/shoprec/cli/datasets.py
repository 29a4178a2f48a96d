"""`shoprec datasets list|info|download`."""

from __future__ import annotations

import typer
from rich.table import Table

from shoprec.cli.console import print_json, report_errors, stdout

app = typer.Typer(help="List, inspect and download the public data sets.", no_args_is_help=True)


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Show every registered data set and where it was found."""
    from shoprec.data.sources import list_datasets

    with report_errors():
        infos = list_datasets()
    if as_json:
        print_json([{"name": i.name, "status": i.status, "path": i.path, "description": i.description} for i in infos])
        return
    table = Table("name", "status", "location", "description")
    for info in infos:
        table.add_row(info.name, info.status, str(info.path or "-"), info.description)
    stdout.print(table)


@app.command("info")
def info_cmd(
    name: str = typer.Argument(..., help="Data set name, e.g. ml-100k."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    strict: bool = typer.Option(False, "--strict", help="Data warnings (dropped or changed rows) become errors."),
) -> None:
    """Load a data set and print its size, density and features."""
    from shoprec.data.dataset import Split
    from shoprec.data.sources import dataset_info, load_dataset, strict_data

    with report_errors(), strict_data(strict):
        info = dataset_info(name)
        data = load_dataset(name)
    summary = {"name": info.name, "status": info.status, "path": info.path, "description": info.description}
    if isinstance(data, Split):
        summary.update({"presplit": True, "train": data.train.describe(), "test": data.test.describe()})
    else:
        summary.update(data.describe())
    if as_json:
        print_json(summary)
        return
    for key, value in summary.items():
        stdout.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command("download")
def download_cmd(name: str = typer.Argument(..., help="Data set name, e.g. ml-100k.")) -> None:
    """Download a public data set into the cache (checksum verified)."""
    from shoprec.data.sources import download_dataset

    with report_errors():
        path = download_dataset(name)
    stdout.print(f"{name}: {path}")
