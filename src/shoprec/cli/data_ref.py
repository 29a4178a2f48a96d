"""The `--data` / `--columns` / `--event-weights` options shared by train, compare, tune and datasets info.

A data reference is a registered name or a path to your own files; for a path the column mapping is
resolved here once (explicit roles checked, the rest guessed), printed as one line with how to
override it, and written into the spec so the run records exactly what was used.
"""

from __future__ import annotations

from typing import Any

import typer

from shoprec.cli.console import console
from shoprec.exceptions import ConfigError

DATA_HELP = "Data set name (`shoprec datasets list`) or a path: a file, or a folder with events.* [items.*, users.*]."
COLUMNS_HELP = "For a path: role=column pairs, e.g. user=customer,item=sku,event=action,time=ts[,weight=w]."
WEIGHTS_HELP = "For a path: weight per event type, e.g. view=1,cart=3,purchase=5 (default: those)."


def columns_option() -> Any:
    return typer.Option(None, "--columns", help=COLUMNS_HELP)


def event_weights_option() -> Any:
    return typer.Option(None, "--event-weights", help=WEIGHTS_HELP)


def data_overrides(columns: str | None, event_weights: str | None) -> dict[str, Any]:
    """The spec's data_options from the flags (only the flags given)."""
    from shoprec.data.sources.local import parse_event_weights, parse_pairs

    options: dict[str, Any] = {}
    if columns is not None:
        options["columns"] = parse_pairs(columns, "--columns")
    if event_weights is not None:
        options["event_weights"] = parse_event_weights(event_weights)
    return options


def settle_data(reference: str, options: dict[str, Any], columns: str | None, event_weights: str | None) -> None:
    """Merge the flags into a spec's data `options`; for a path, resolve and print the mapping and fix it there."""
    from shoprec.data.sources.local import check_options, is_path_reference, resolve_source

    overrides = data_overrides(columns, event_weights)
    if overrides and not is_path_reference(reference):
        raise ConfigError(f"--columns and --event-weights apply to a path, not to the data set {reference!r}")
    options.update(overrides)
    if not is_path_reference(reference):
        return
    check_options(reference, options)
    source = resolve_source(reference, **options)
    console.print(source.describe(), highlight=False, soft_wrap=True)
    options.update({"columns": source.mapping(), "event_weights": source.event_weights})
