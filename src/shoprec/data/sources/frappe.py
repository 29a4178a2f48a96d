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
from shoprec.data.sources._assemble import ITEM_TITLES, interactions_from, item_titles
from shoprec.data.sources._features import FeatureKind, feature_table
from shoprec.data.sources._text import read_table

_DOLLARS = r"^\$(\d+(?:\.\d+)?)$"
_META_KINDS: dict[str, FeatureKind] = {
    "category": "categorical",
    "downloads": "categorical",
    "language": "categorical",
    "price": "numeric",
    "rating": "numeric",
}


def load_frappe(path: str | Path, meta: str | Path | None = None) -> Dataset:
    """Frappe's tab-separated log; `meta.csv` beside it (or `meta`) adds app features and names."""
    path = Path(path)
    types = dict.fromkeys(["user", "item", "cnt"], pl.Int64)
    log = read_table(path, separator="\t", required=list(types), types=types).without_duplicates()
    users, items, interactions = interactions_from(log, weight="cnt")
    meta_path = Path(meta) if meta else path.with_name("meta.csv")
    features, metadata = None, {"source": str(path)}
    if meta_path.is_file():
        table = read_table(meta_path, separator="\t", quote=False, required=["item", "name", *_META_KINDS])
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
