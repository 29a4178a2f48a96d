"""The Frappe app-usage log (Baltrunas et al. 2015): `frappe.csv` plus app metadata `meta.csv`.

Each log row is (user, app, cnt, context...); it becomes one interaction whose weight is `cnt`, the
number of uses in that context (rows of the same pair in other contexts stay separate events and add
up in `Dataset.to_csr`). The context columns are not kept: `Interactions` has no per-event context,
and the libFM files serve context-aware models. App metadata gives item features `category`,
`downloads` and `language` (categorical), `price` (numeric US dollars, "Free" = 0; the 6 prices in
other currencies are left missing rather than mixed in) and `rating` (numeric); "unknown" marks
missing metadata. App names go to `metadata["item_titles"]`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from shoprec.data.dataset import Dataset
from shoprec.data.sources._assemble import ITEM_TITLES, interactions_from, item_titles, warn_unlisted
from shoprec.data.sources._features import FeatureKind, feature_table
from shoprec.data.sources._policy import with_strict
from shoprec.data.sources._text import read_table

_DOLLARS = r"^\$(\d+(?:\.\d+)?)$"
#: Allowed values of the context columns (lower case), as the log writes them.
_CONTEXT = {
    "daytime": ("morning", "afternoon", "evening", "night", "noon", "sunrise", "sunset"),
    "weekday": ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
    "isweekend": ("weekend", "workday"),
    "homework": ("home", "work", "unknown"),
    "cost": ("free", "paid"),
    "weather": ("sunny", "cloudy", "foggy", "drizzle", "rainy", "sleet", "snowy", "stormy", "unknown"),
}
_META_TEXT = ("name", "description", "short desc", "developer", "package", "icon")
_PRICE_EXPECTED = "'Free', 'unknown' or a price such as $0.99 (prices in other currencies are left missing)"
_META_KINDS: dict[str, FeatureKind] = {
    "category": "categorical",
    "downloads": "categorical",
    "language": "categorical",
    "price": "numeric",
    "rating": "numeric",
}


@with_strict
def load_frappe(path: str | Path, meta: str | Path | None = None) -> Dataset:
    """Frappe's tab-separated log; `meta.csv` beside it (or `meta`) adds app features and names."""
    path = Path(path)
    types = dict.fromkeys(["user", "item", "cnt"], pl.Int64)
    log = read_table(path, separator="\t", required=list(types), types=types)
    for column in ("user", "item"):
        log.check(pl.Series(log.ints(column) < 0), column, "an id >= 0 (Frappe ids start at 0)")
    log.check(pl.Series(log.ints("cnt") < 1), "cnt", "a count of uses >= 1")
    for column, allowed in _CONTEXT.items():
        if column in log.columns:
            log.check(~log.strings(column).str.to_lowercase().is_in(allowed), column, f"one of {list(allowed)}")
    log = log.without_duplicates()
    users, items, interactions = interactions_from(log, weight="cnt")
    meta_path = Path(meta) if meta else path.with_name("meta.csv")
    features, metadata = None, {"source": str(path)}
    if meta_path.is_file():
        table = read_table(
            meta_path, separator="\t", quote=False, required=["item", "name", *_META_KINDS], text=_META_TEXT
        )
        price = table.strings("price", missing_ok=True)
        table.check(~price.str.contains(r"\d") & ~price.is_in(["Free", "unknown"]), "price", _PRICE_EXPECTED)
        rating = table.strings("rating").replace("unknown", None).cast(pl.Float64, strict=False)
        table.check(rating.is_not_null() & ((rating < 0) | (rating > 5)), "rating", "a rating 0..5 or 'unknown'")
        warn_unlisted(log, "item", interactions.items, items, table, "item")
        unknown = [pl.col(c).replace("unknown", None) for c in [*_META_KINDS, "name"]]
        price = (
            pl.when(pl.col("price") == "Free")
            .then(pl.lit("0"))
            .otherwise(pl.col("price").str.extract(_DOLLARS, 1))
            .alias("price")
        )
        table = table.with_frame(table.frame.with_columns(unknown).with_columns(price))
        features = feature_table(table, "item", items, _META_KINDS)
        metadata[ITEM_TITLES] = item_titles(table, "item", "name", items)
    return Dataset("frappe", interactions, users, items, item_features=features, metadata=metadata)
