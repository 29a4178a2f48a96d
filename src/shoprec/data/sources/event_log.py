"""A shop's own event log (views, carts, purchases...) with an optional catalog and user profiles.

Accepts CSV or TSV (separator detected from the header; gzip, bzip2 or xz compressed), Parquet, JSON lines
(.jsonl/.ndjson/.json), and polars or pandas DataFrames.
Timestamps may be unix seconds, milliseconds or microseconds (told by magnitude) or ISO-8601 strings,
and must fall between 1990 and tomorrow (see `_time`). Each event's weight comes from its type
(`event_weights`) unless a weight column is named. Catalog items and profiled users without events
still join the vocabularies: they are the cold items and users that features must carry.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from shoprec.data.dataset import DEFAULT_EVENT_WEIGHTS, Dataset
from shoprec.data.features import FeatureTable
from shoprec.data.sources._assemble import ITEM_TITLES, interactions_from, item_titles, warn_unlisted
from shoprec.data.sources._features import FeatureSpec, feature_table, resolve_kinds
from shoprec.data.sources._jsonl import is_json_lines, read_json_lines
from shoprec.data.sources._policy import with_strict
from shoprec.data.sources._table import Table
from shoprec.data.sources._text import read_bytes, read_table, without_control_characters
from shoprec.data.sources._time import TimeUnit
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError, DataError

#: A file path (CSV, TSV, Parquet) or an in-memory polars / pandas DataFrame.
Source = str | Path | pl.DataFrame | Any
_NONE = np.zeros(0, dtype=np.int64)
#: Ranges of numeric catalog/profile columns whose name says what they hold (an age of 200 is a typo).
_PLAUSIBLE = {"age": (0.0, 120.0), "price": (0.0, float("inf"))}


@dataclass(frozen=True)
class ColumnMapping:
    """Column names of the log (and of the catalog/profiles for ids); None: the log has no such column.

    weight: explicit per-event weight, used instead of `event_weights`. title: catalog column with
    display names, kept in `metadata["item_titles"]` rather than as a feature.
    """

    user: str = "user_id"
    item: str = "item_id"
    timestamp: str | None = "ts"
    event: str | None = "event_type"
    weight: str | None = None
    rating: str | None = None
    title: str | None = None


def read_source(source: Source, *, separator: str | None = None, required: tuple[str, ...] = ()) -> Table:
    """A Table from CSV/TSV (by default any suffix but .parquet/.pq/.jsonl), Parquet, JSON lines, or a DataFrame.

    Columns not in `required` count as free text: control characters there are removed with a
    warning (in the required ones, ids and such, they are an error). Zero rows is a DataError.
    """
    is_path = isinstance(source, str | Path)
    if is_path and Path(source).suffix.lower() not in (".parquet", ".pq") and not is_json_lines(source):
        return read_table(source, separator=separator, required=required, text=None)
    if not isinstance(source, str | Path):
        table = Table.from_frame(source)
    elif is_json_lines(source):
        table = read_json_lines(source)
    else:
        read_bytes(source, check=False)  # missing, a folder, unreadable: one clear DataError
        try:
            table = Table(pl.read_parquet(source), str(source))
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise DataError(f"cannot read Parquet ({str(exc).splitlines()[0]})", path=source) from None
    table.require(*required)
    if len(table) == 0:
        raise DataError("no rows; expected at least one", path=table.source)
    return without_control_characters(table, text=[c for c in table.columns if c not in required])


@with_strict
def load_event_log(
    source: Source,
    *,
    columns: ColumnMapping = ColumnMapping(),
    event_weights: Mapping[str, float] | None = DEFAULT_EVENT_WEIGHTS,
    unknown_event_weight: float | None = None,
    items: Source | None = None,
    users: Source | None = None,
    item_features: FeatureSpec = None,
    user_features: FeatureSpec = None,
    multi_value_separator: str = "|",
    separator: str | None = None,
    rating_scale: tuple[float, float] | None = None,
    name: str | None = None,
    timestamp_unit: TimeUnit = "auto",
) -> Dataset:
    """Load events (+ catalog `items`, + profiles `users`) into a Dataset.

    event_weights: weight per event type; a type not listed is a DataError unless
    `unknown_event_weight` gives it a weight (then it is counted and warned about once). None: every
    type weighs 1. item_features / user_features: None (every column but the id), a list of columns,
    or {column: "categorical" | "numeric" | "multi" | "auto"}; "multi" splits strings on
    `multi_value_separator`, list columns are multi-valued anyway. rating_scale: (low, high) allowed ratings.
    items / users: catalog and profiles keyed by the `columns.item` / `columns.user` column. separator:
    of every text input (None: detected per file). name: the Dataset's name (default: the file's stem).
    timestamp_unit: "auto" (seconds, ms, us or ns told by magnitude; ISO strings), one of those units, or
    "order" (plain integers that only order events). Dates before 1990 or after tomorrow are an error.
    With a rating column, a (user, item) pair rated more than once keeps its latest rating (a warning);
    events of items (users) missing from `items` (`users`) are kept, with a warning.
    """
    fields = (columns.user, columns.item, columns.timestamp, columns.event, columns.weight, columns.rating)
    events = read_source(source, separator=separator, required=tuple(c for c in fields if c)).without_duplicates()
    if columns.rating is not None:
        events = events.one_per_key([columns.user, columns.item], columns.rating, columns.timestamp)
    catalog = None if items is None else read_source(items, separator=separator, required=(columns.item,))
    profiles = None if users is None else read_source(users, separator=separator, required=(columns.user,))
    user_vocab, item_vocab, interactions = interactions_from(
        events,
        user=columns.user,
        item=columns.item,
        rating=columns.rating,
        scale=rating_scale,
        timestamp=columns.timestamp,
        weight=columns.weight,
        catalog_users=_NONE if profiles is None else profiles.ids(columns.user),
        catalog_items=_NONE if catalog is None else catalog.ids(columns.item),
        timestamp_unit=timestamp_unit,
    )
    if catalog is not None:
        warn_unlisted(events, columns.item, interactions.items, item_vocab, catalog, columns.item)
    if profiles is not None:
        warn_unlisted(events, columns.user, interactions.users, user_vocab, profiles, columns.user)
    event_types: tuple[str, ...] = ()
    if columns.event is not None:
        codes, event_types, weights = _event_codes(events, columns.event, event_weights, unknown_event_weight)
        interactions = replace(interactions, events=codes, weights=interactions.weights if columns.weight else weights)
    item_table = _features(catalog, columns.item, item_vocab, item_features, {columns.title}, multi_value_separator)
    user_table = _features(profiles, columns.user, user_vocab, user_features, set(), multi_value_separator)
    metadata: dict[str, object] = {"source": events.source}
    if catalog is not None and columns.title is not None:
        metadata[ITEM_TITLES] = item_titles(catalog, columns.item, columns.title, item_vocab)
    return Dataset(
        name=name or (Path(source).stem if isinstance(source, str | Path) else "events"),
        interactions=interactions,
        users=user_vocab,
        items=item_vocab,
        item_features=item_table,
        user_features=user_table,
        event_types=event_types,
        metadata=metadata,
    )


def _features(
    table: Table | None, id_column: str, vocab: Vocabulary, spec: FeatureSpec, skip: set[str | None], sep: str
) -> FeatureTable | None:
    """Features of a catalog or profile table; errors about `spec` name the matching parameter."""
    if table is None:
        return None
    parameter = "item_features" if skip else "user_features"
    kinds = resolve_kinds(table, spec, exclude={id_column, *skip}, parameter=parameter)
    for name, kind in kinds.items():
        if kind == "numeric" and name.lower() in _PLAUSIBLE:
            table.floats(name, missing_ok=True, low=_PLAUSIBLE[name.lower()][0], high=_PLAUSIBLE[name.lower()][1])
    return feature_table(table, id_column, vocab, kinds, separator=sep)


def _event_codes(
    table: Table, column: str, event_weights: Mapping[str, float] | None, unknown_weight: float | None
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """(n,) int16 codes into the event types, the types (listed ones first, in order) and (n,) float32 weights."""
    weights = {} if event_weights is None else dict(event_weights)
    for value in [*weights.values(), unknown_weight]:
        if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"event_weights / unknown_event_weight: expected finite weights >= 0, got {value!r}")
    values = table.strings(column)
    unknown = sorted(set(values.unique().to_list()) - set(weights))
    if unknown and event_weights is not None:
        if unknown_weight is None:
            row = int(values.is_in(unknown).arg_true()[0])
            expected = f"expected one of {list(weights)} (or pass unknown_event_weight= to accept others)"
            raise table.error(row, column, f"unknown event type {values[row]!r}; {expected}")
        count = int(values.is_in(unknown).sum())
        message = f"{table.source}: {count} event(s) of unlisted type(s) {unknown} weighted {unknown_weight}"
        warnings.warn(message, stacklevel=3)
    types = (*weights, *unknown)
    if len(types) > np.iinfo(np.int16).max:
        raise table.error(None, column, f"{len(types)} distinct event types; expected at most {np.iinfo(np.int16).max}")
    codes = values.replace_strict(types, list(range(len(types))), return_dtype=pl.Int16).to_numpy()
    fallback = 1.0 if event_weights is None else unknown_weight
    per_type = np.array([weights.get(t, fallback) for t in types], dtype=np.float32)
    return codes, types, per_type[codes]
