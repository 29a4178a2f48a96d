"""Amazon review data sets in the layouts papers distribute them.

* Sequences (S3-Rec, `Beauty.txt`): `user item1 item2 ...` in chronological order, plus
  `<name>_item2attributes.json` ({"item": [attribute ids]}). There is no time: `timestamps` holds
  each event's position in its user's sequence (0, 1, ...), so a temporal leave-one-out split
  holds out the last item; `metadata["timestamps"]` says so.
* Ratings CSV (`user,item,rating,timestamp`, no header) and 5-core JSON lines (`reviewerID`, `asin`,
  `overall`, `unixReviewTime`; plain or gzip) as McAuley's lab publishes them.
* ReChorus (`train.csv`, tab-separated `user_id item_id time`, and `item_meta.csv`): `i_category`
  (0 = unknown) is a categorical feature; `r_complement` / `r_substitute` (also-bought / also-viewed
  item lists written as Python lists) become multi-valued columns of item ids, parsed without eval.
  Items of the catalog that have no training event still join the item vocabulary.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import polars as pl

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.features import FeatureTable
from shoprec.data.sources._assemble import interactions_from, warn_unlisted
from shoprec.data.sources._features import FeatureKind, feature_table
from shoprec.data.sources._policy import warn_data, with_strict
from shoprec.data.sources._table import Table
from shoprec.data.sources._text import (
    check_utf8,
    read_bytes,
    read_lines,
    read_table,
    to_utf8,
    without_control_characters,
)
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import DataError

_STARS = (1.0, 5.0)
_INT_LIST = r"^\[\s*(\d+\s*(,\s*\d+\s*)*)?\]$"
_REVIEW_FIELDS = ["reviewerID", "asin", "overall", "unixReviewTime"]


@with_strict
def load_amazon_sequences(path: str | Path, attributes: str | Path | None = None) -> Dataset:
    """Per-user chronological item sequences; item feature `attributes` from the JSON beside it."""
    path = Path(path)
    table = read_lines(path)
    text = table.strings("line").str.replace_all("\t", " ", literal=True)
    tokens = text.str.split(" ").list.eval(pl.element().filter(pl.element() != ""))
    table.check(tokens.list.len() < 2, "line", "a user id followed by at least one item id")
    numbers = tokens.list.eval(pl.element().cast(pl.Int64, strict=False))
    bad = numbers.list.eval(pl.element().is_null() | (pl.element() < 1)).list.any()
    if bad.any():
        row = int(bad.arg_true()[0])
        token = next(t for t, n in zip(tokens[row], numbers[row], strict=True) if n is None or n < 1)
        raise table.error(row, "line", f"expected integer ids >= 1 (a user id, then item ids), got {token!r}")
    users = numbers.list.first()
    repeated = users.is_duplicated() & ~users.is_first_distinct()
    table.check(repeated, "line", "one line per user (this user already has a line)")
    lengths = (numbers.list.len() - 1).to_numpy()
    items = numbers.list.slice(1).explode()
    events = Table.from_frame(pl.DataFrame({"user": np.repeat(users.to_numpy(), lengths), "item": items}), str(path))
    user_vocab, item_vocab, interactions = interactions_from(events)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.arange(lengths.sum(), dtype=np.int64) - starts
    attributes = Path(attributes) if attributes else path.with_name(f"{path.stem}_item2attributes.json")
    return Dataset(
        name=path.stem,
        interactions=Interactions.build(interactions.users, interactions.items, timestamps=positions),
        users=user_vocab,
        items=item_vocab,
        item_features=_attributes(attributes, item_vocab) if attributes.is_file() else None,
        metadata={"source": str(path), "timestamps": "position in the user's sequence"},
    )


def _attributes(path: Path, items: Vocabulary) -> FeatureTable:
    """Multi-valued `attributes` from {"item": [attribute, ...]}, parsed as JSON (never evaluated)."""
    data = read_bytes(path)
    check_utf8(data, path)
    try:
        mapping = json.loads(data)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON at character {exc.colno}: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(mapping, dict):
        raise DataError(f"expected a JSON object {{item: [attributes]}}, got {type(mapping).__name__}", path=path)
    for item, values in mapping.items():
        if not isinstance(values, list) or not all(
            isinstance(v, int | str) and v is not True and v is not False for v in values
        ):
            raise DataError(f"item {item!r}: expected a list of attribute ids, got {values!r}", path=path)
    keys = list(mapping)
    unknown = [keys[i] for i in np.flatnonzero(items.index(np.array(keys, dtype=str)) < 0)] if keys else []
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        warn_data(f"attributes of {len(unknown)} item(s) not in the sequences, ignored: JSON keys {shown}", path=path)
    frame = pl.DataFrame(
        {"item": list(mapping), "attributes": [[str(v) for v in vs] for vs in mapping.values()]},
        schema={"item": pl.String, "attributes": pl.List(pl.String)},
    )
    return feature_table(Table.from_frame(frame, str(path)), "item", items, {"attributes": "multi"})


@with_strict
def load_amazon_ratings(path: str | Path) -> Dataset:
    """`user,item,rating,timestamp` lines without a header (the ratings-only files), 1-5 stars."""
    path = Path(path)
    table = read_table(path, names=["user", "item", "rating", "timestamp"], header=False, separator=",")
    return _rated(path, table, "user", "item", "rating", "timestamp")


@with_strict
def load_amazon_reviews(path: str | Path) -> Dataset:
    """5-core review JSON lines (optionally gzip): reviewerID, asin, overall (1-5), unixReviewTime."""
    path = Path(path)
    data = to_utf8(read_bytes(path), "utf-8")
    try:
        frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except pl.exceptions.PolarsError:
        raise _json_lines_error(data, path) from None
    table = Table(frame, str(path), first_line=1)
    table.require(*_REVIEW_FIELDS)
    table = table.with_frame(frame.select(_REVIEW_FIELDS))
    table = without_control_characters(table, text=())
    return _rated(path, table, *_REVIEW_FIELDS)


def _json_lines_error(data: bytes, path: Path) -> DataError:
    """The first line that is not a JSON object (the parser's own error does not say which)."""
    check_utf8(data, path)
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            if not isinstance(json.loads(line), dict):
                return DataError("expected one JSON object per line", path=path, line=number)
        except json.JSONDecodeError as exc:
            return DataError(f"malformed JSON at character {exc.colno}: {exc.msg}", path=path, line=number)
    return DataError("expected JSON lines with consistent field types", path=path)


def _rated(path: Path, table: Table, user: str, item: str, rating: str, timestamp: str) -> Dataset:
    """Whole 1-5 stars, one rating per user and item (the latest kept, with a warning)."""
    stars = table.floats(rating, low=_STARS[0], high=_STARS[1])
    table.check(pl.Series(stars != np.round(stars)), rating, "a whole number of stars 1..5")
    table = table.one_per_key([user, item], rating, timestamp)
    users, items, interactions = interactions_from(
        table, user=user, item=item, rating=rating, scale=_STARS, timestamp=timestamp
    )
    name = path.name.split(".")[0]
    return Dataset(name, interactions, users, items, metadata={"source": str(path)})


@with_strict
def load_rechorus(path: str | Path, item_meta: str | Path | None = None) -> Dataset:
    """ReChorus `train.csv` (user_id, item_id, time) with `item_meta.csv` beside it when present."""
    path = Path(path)
    types = dict.fromkeys(["user_id", "item_id", "time"], pl.Int64)
    events = read_table(path, separator="\t", required=list(types), types=types).without_duplicates()
    for column in ("user_id", "item_id"):
        events.check(pl.Series(events.ints(column) < 1), column, "an id >= 1 (ReChorus ids start at 1)")
    meta_path = Path(item_meta) if item_meta else path.with_name("item_meta.csv")
    meta = _item_meta(meta_path) if meta_path.is_file() else None
    catalog = meta.ids("item_id") if meta is not None else np.zeros(0, dtype=np.int64)
    users, items, interactions = interactions_from(
        events, user="user_id", item="item_id", timestamp="time", catalog_items=catalog
    )
    features = None
    if meta is not None:
        warn_unlisted(events, "item_id", interactions.items, items, meta, "item_id")
        kinds: dict[str, FeatureKind] = {c: "categorical" for c in meta.columns if c != "item_id"}
        kinds |= {c: "multi" for c in kinds if c.startswith("r_")}
        features = feature_table(meta, "item_id", items, kinds, separator=",")
    name = path.resolve().parent.name
    return Dataset(name, interactions, users, items, item_features=features, metadata={"source": str(path)})


def _item_meta(path: Path) -> Table:
    """item_meta.csv with category 0 as missing and each `r_*` list checked and unwrapped to '1, 2, 3'."""
    meta = read_table(path, separator="\t", required=["item_id"], quote=False)
    relations = [c for c in meta.columns if c.startswith("r_")]
    for column in relations:
        meta.check(~meta.strings(column).str.contains(_INT_LIST), column, "a list of item ids like [1, 2, 3]")
    ids = meta.ints("item_id")
    meta.check(pl.Series(ids < 1), "item_id", "an id >= 1 (ReChorus ids start at 1)")
    if "i_category" in meta.columns:
        meta.check(pl.Series(meta.ints("i_category") < 0), "i_category", "a category >= 0 (0 = unknown)")
    for column in relations:
        listed = meta.strings(column).str.extract_all(r"\d+").list.eval(pl.element().cast(pl.Int64))
        unknown = listed.list.eval(~pl.element().is_in(ids)).list.any().fill_null(False)
        if unknown.any():
            meta.warn(unknown.arg_true().to_numpy(), column, "lists name items missing from the file: kept as they are")
    frame = meta.frame.with_columns(pl.col(c).str.strip_chars().str.strip_chars("[]") for c in relations)
    if "i_category" in frame.columns:
        frame = frame.with_columns(pl.col("i_category").replace("0", None))
    return meta.with_frame(frame)
