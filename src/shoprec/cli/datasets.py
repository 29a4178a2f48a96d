"""`shoprec datasets list|info|export|download`."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from shoprec.cli.console import print_json, report_errors, stdout
from shoprec.cli.data_ref import columns_option, event_weights_option, settle_data
from shoprec.cli.errors import ShoprecCommand

app = typer.Typer(
    help="List, download and export the public data sets; profile any data set or your own files.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("list", cls=ShoprecCommand)
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


@app.command("info", cls=ShoprecCommand)
def info_cmd(
    name: str = typer.Argument(..., help="Data set name (e.g. ml-100k) or a path to your files (file or folder)."),
    columns: str = columns_option(),
    event_weights: str = event_weights_option(),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    strict: bool = typer.Option(False, "--strict", help="Data warnings (dropped or changed rows) become errors."),
) -> None:
    """Load a data set and profile it: sizes, activity, time, event mix, loader warnings and advice."""
    from shoprec.cli.profile_view import print_profile
    from shoprec.data.dataset import Split
    from shoprec.data.profile import profile_dataset
    from shoprec.data.sources import strict_data
    from shoprec.data.sources.local import resolve_data

    with report_errors(), strict_data(strict):
        options: dict[str, object] = {}
        settle_data(name, options, columns, event_weights)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = resolve_data(name, **options)
        summary = _summary(name)
        if isinstance(data, Split):
            summary.update({"presplit": True, "train": data.train.describe(), "test": data.test.describe()})
        else:
            summary.update(data.describe())
            summary["profile"] = profile_dataset(data, [str(w.message) for w in caught])
    if as_json:
        print_json(summary)
        return
    profile = summary.pop("profile", None)
    if profile is None:  # a profile lists the loader's warnings itself
        for w in caught:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    for key, value in summary.items():
        stdout.print(Text.assemble((key, "bold"), f": {value}"), highlight=False)
    if profile is not None:
        print_profile(profile)


def _summary(name: str) -> dict[str, object]:
    """Registry facts for a registered name; the resolved folder or file for a path."""
    from shoprec.data.sources import dataset_info
    from shoprec.data.sources.local import is_path_reference

    if is_path_reference(name):
        return {"name": name, "status": "local files", "path": str(Path(name).resolve())}
    info = dataset_info(name)
    return {"name": info.name, "status": info.status, "path": info.path, "description": info.description}


@app.command("export", cls=ShoprecCommand)
def export_cmd(
    name: str = typer.Argument(..., help="Data set to write out, e.g. synthetic-shop."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for events.* , items.* and users.*."),
    fmt: str = typer.Option("csv", "--format", help="csv, tsv, parquet or jsonl."),
    users: int = typer.Option(None, "--users", min=1, help="synthetic-shop: number of users."),
    items: int = typer.Option(None, "--items", min=1, help="synthetic-shop: number of items."),
    events: int = typer.Option(None, "--events", min=1, help="synthetic-shop: number of events."),
    seed: int = typer.Option(None, "--seed", help="synthetic-shop: generator seed."),
) -> None:
    """Write a data set as a shop's own files (the layout `--data FOLDER` reads), e.g. to try shoprec on them."""
    from shoprec.data.dataset import Split
    from shoprec.data.export import export_dataset
    from shoprec.data.sources import load_dataset
    from shoprec.data.sources.registry import SYNTHETIC
    from shoprec.exceptions import ConfigError

    with report_errors():
        sizes = {"n_users": users, "n_items": items, "n_events": events, "seed": seed}
        options = {k: v for k, v in sizes.items() if v is not None}
        if options and name != SYNTHETIC:
            raise ConfigError(f"--users/--items/--events/--seed apply to {SYNTHETIC} only, not {name!r}")
        data = load_dataset(name, **options)
        if isinstance(data, Split):
            raise ConfigError(f"{name} comes pre-split; export a data set that is one log")
        written = export_dataset(data, out, fmt=fmt)
    for path in written:
        stdout.print(f"wrote {path}", highlight=False, markup=False)


@app.command("download", cls=ShoprecCommand)
def download_cmd(name: str = typer.Argument(..., help="Data set name, e.g. ml-100k.")) -> None:
    """Download a public data set into the cache (checksum verified)."""
    from shoprec.data.sources import download_dataset

    with report_errors():
        path = download_dataset(name)
    stdout.print(f"{name}: {path}")
