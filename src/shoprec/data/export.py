"""A Dataset written out as a shop's own files: events.*, items.* (catalog) and users.* (profiles).

The layout is the one `shoprec --data FOLDER` reads back (`data.sources.local`), so an exported data
set (e.g. the synthetic shop) is a worked example of the files a shop brings: columns user_id,
item_id, event_type, ts (unix seconds), plus rating / weight where the data has them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from shoprec.data.dataset import Dataset
from shoprec.data.features import CategoricalColumn, FeatureTable, MultiValuedColumn, NumericColumn
from shoprec.data.sources._assemble import ITEM_TITLES
from shoprec.exceptions import ConfigError

FORMATS = {"csv": "csv", "tsv": "tsv", "parquet": "parquet", "jsonl": "jsonl"}


def export_dataset(dataset: Dataset, out: str | Path, *, fmt: str = "csv") -> list[Path]:
    """Write the data set's files into `out` (created); returns the paths written, events first."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format: expected one of {list(FORMATS)}, got {fmt!r}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = [_write(events_frame(dataset), folder / f"events.{fmt}", fmt)]
    titles = dataset.metadata.get(ITEM_TITLES)
    items = _features_frame("item_id", dataset.items.to_list(), dataset.item_features)
    if titles is not None:
        items = (items if items is not None else pl.DataFrame({"item_id": dataset.items.to_list()})).insert_column(
            1, pl.Series("title", list(titles), dtype=pl.String)
        )
    if items is not None:
        written.append(_write(items, folder / f"items.{fmt}", fmt))
    users = _features_frame("user_id", dataset.users.to_list(), dataset.user_features)
    if users is not None:
        written.append(_write(users, folder / f"users.{fmt}", fmt))
    return written


def events_frame(dataset: Dataset) -> pl.DataFrame:
    """One row per event with external ids; event type names, time, ratings and weights where present."""
    inter = dataset.interactions
    columns: dict[str, object] = {
        "user_id": dataset.users.external(inter.users),
        "item_id": dataset.items.external(inter.items),
    }
    if inter.events is not None and dataset.event_types:
        columns["event_type"] = np.asarray(dataset.event_types, dtype=object)[inter.events]
    elif not np.all(inter.weights == 1):
        columns["weight"] = inter.weights
    if inter.timestamps is not None:
        columns["ts"] = inter.timestamps
    if inter.ratings is not None:
        columns["rating"] = inter.ratings
    return pl.DataFrame(columns)


def _features_frame(id_column: str, ids: list[str], table: FeatureTable | None) -> pl.DataFrame | None:
    """Ids plus one column per feature (category names, numbers, '|'-joined multi values; empty = missing)."""
    if table is None or not table.names():
        return None
    columns: dict[str, pl.Series] = {id_column: pl.Series(id_column, ids, dtype=pl.String)}
    for name in table.names():
        column = table[name]
        if isinstance(column, CategoricalColumn):
            names = np.asarray([None, *column.values], dtype=object)
            columns[name] = pl.Series(name, names[column.codes], dtype=pl.String)
        elif isinstance(column, NumericColumn):
            columns[name] = pl.Series(name, column.values)
        elif isinstance(column, MultiValuedColumn):
            columns[name] = _joined(name, column)
    return pl.DataFrame(columns)


def _joined(name: str, column: MultiValuedColumn) -> pl.Series:
    """'a|b|c' per entity from CSR offsets, joined by polars (no loop over entities)."""
    n = len(column.offsets) - 1
    rows = np.repeat(np.arange(n), np.diff(column.offsets))
    values = np.asarray(column.values, dtype=object)[column.codes - 1]
    grouped = (
        pl.DataFrame({"row": rows, "v": pl.Series(values, dtype=pl.String)})
        .group_by("row")
        .agg(pl.col("v").str.join("|"))
    )
    full = pl.DataFrame({"row": np.arange(n)}).join(grouped, on="row", how="left").sort("row")
    return full["v"].alias(name)


def _write(frame: pl.DataFrame, path: Path, fmt: str) -> Path:
    if fmt == "parquet":
        frame.write_parquet(path)
    elif fmt == "jsonl":
        frame.write_ndjson(path)
    else:
        frame.write_csv(path, separator="\t" if fmt == "tsv" else ",")
    return path
