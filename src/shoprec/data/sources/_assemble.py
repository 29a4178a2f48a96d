"""What every loader shares once its files are parsed: id spaces, interactions and aligned per-item text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shoprec.data.dataset import Interactions
from shoprec.data.sources._table import Table
from shoprec.data.sources._time import TimeUnit
from shoprec.data.vocabulary import Vocabulary

#: `Dataset.metadata` key of the display names of items, a list aligned with the item index.
ITEM_TITLES = "item_titles"
_NONE = np.zeros(0, dtype=np.int64)


def encode_ids(*parts: np.ndarray) -> tuple[Vocabulary, list[np.ndarray]]:
    """One vocabulary over several id arrays (e.g. events, then catalog rows) and each array's codes.

    Integer ids keep their numeric order; when some parts are strings every id is compared as a string.
    """
    present = [p for p in parts if len(p)]
    if len({p.dtype.kind for p in present}) > 1:
        present = [p.astype(str) for p in present]
    uniques, codes = _factorize(np.concatenate(present) if present else np.array([], dtype=str))
    pieces = iter(np.split(codes, np.cumsum([len(p) for p in present])[:-1]))
    return Vocabulary(uniques.astype(str)), [next(pieces) if len(p) else np.zeros(0, dtype=np.int64) for p in parts]


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and the code of each value, as `np.unique(..., return_inverse=True)`.

    Integer ids spanning a range not much wider than their count (the usual case) are factorised
    with a lookup table in O(n) instead of an O(n log n) sort.
    """
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low < 4 * len(values) + 1024:
            present = np.zeros(high - low + 1, dtype=bool)
            present[values - low] = True
            lookup = np.cumsum(present, dtype=np.int64) - 1
            return np.flatnonzero(present) + low, lookup[values - low]
    uniques, codes = np.unique(values, return_inverse=True)
    return uniques, codes.reshape(-1).astype(np.int64)


def item_titles(table: Table, id_column: str, title_column: str, vocab: Vocabulary) -> list[str]:
    """Display names from a catalog table, one per entity of `vocab` ("" where the catalog has none)."""
    out = np.full(len(vocab), "", dtype=object)
    index = vocab.index(table.ids(id_column))
    known = index >= 0
    out[index[known]] = table.strings(title_column, missing_ok=True).fill_null("").to_numpy()[known]
    return out.tolist()


def interactions_from(
    table: Table,
    *,
    user: str = "user",
    item: str = "item",
    rating: str | None = None,
    scale: tuple[float, float] | None = None,
    timestamp: str | None = None,
    weight: str | None = None,
    catalog_users: np.ndarray = _NONE,
    catalog_items: np.ndarray = _NONE,
    timestamp_unit: TimeUnit = "auto",
) -> tuple[Vocabulary, Vocabulary, Interactions]:
    """Vocabularies and interactions of an event table (one row per event, duplicates already dropped).

    Catalog ids (profiles, catalog rows) join the vocabularies after the ids seen in events, so
    entities without events still exist (cold users and items). Ratings must lie within `scale`.
    """
    user_vocab, (users, _) = encode_ids(table.ids(user), catalog_users)
    item_vocab, (items, _) = encode_ids(table.ids(item), catalog_items)
    low, high = scale if scale is not None else (None, None)
    interactions = Interactions.build(
        users,
        items,
        None if weight is None else table.floats(weight, low=0),
        ratings=None if rating is None else table.floats(rating, low=low, high=high),
        timestamps=None if timestamp is None else table.timestamps(timestamp, timestamp_unit),
    )
    return user_vocab, item_vocab, interactions


def warn_unlisted(
    events: Table, column: str, codes: np.ndarray, vocab: Vocabulary, listing: Table, listing_column: str
) -> None:
    """Warn, naming event lines, about events whose id (`codes` into `vocab`) has no row in `listing`
    (a catalog or profile file): they are kept, but without features."""
    listed = np.zeros(len(vocab), dtype=bool)
    index = vocab.index(listing.ids(listing_column))
    listed[index[index >= 0]] = True
    rows = np.flatnonzero(~listed[codes])
    if len(rows):
        ids = len(np.unique(codes[rows]))
        events.warn(
            rows, column, f"events of {ids} id(s) missing from {Path(listing.source).name}: kept, without features"
        )
