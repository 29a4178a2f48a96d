"""What re-ranking steps know about the catalog, and the one signature every step has.

Steps work on a batch: `items` (b, k) int64 item indices best first, -1 padding the end of short rows,
and `scores` (b, k) float32 with -inf at the padding. The same arrays flow through offline evaluation
and serving, so what is measured is what is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from shoprec.data.dataset import Dataset
from shoprec.data.features import CategoricalColumn, MultiValuedColumn
from shoprec.exceptions import ConfigError


@dataclass
class RerankContext:
    """Per-item arrays the steps read, indexed by dense item index (n_items rows each).

    item_vectors: (n_items, d) for MMR's cosine similarity, or None (MMR then compares categories).
    item_popularity: (n_items,) training interaction counts, for the long-tail boost.
    item_category / item_brand: (n_items,) int codes, -1 where unknown, for caps and the MMR fallback.
    """

    item_vectors: np.ndarray | None
    item_popularity: np.ndarray
    item_category: np.ndarray | None = None
    item_brand: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.item_popularity = np.asarray(self.item_popularity, dtype=np.float64)
        n = len(self.item_popularity)
        for name in ("item_vectors", "item_category", "item_brand"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ConfigError(f"RerankContext.{name} has {len(value)} rows, expected {n} (one per item)")

    @property
    def n_items(self) -> int:
        return len(self.item_popularity)

    def codes(self, field: str) -> np.ndarray:
        """The (n_items,) codes of `field` ("category" or "brand"); ConfigError when the context lacks them."""
        if field not in ("category", "brand"):
            raise ConfigError(f"field must be 'category' or 'brand', got {field!r}")
        values = getattr(self, f"item_{field}")
        if values is None:
            raise ConfigError(f"RerankContext.item_{field} is not set, but a step needs the item {field}")
        return values

    @classmethod
    def from_dataset(
        cls,
        train: Dataset,
        *,
        item_vectors: np.ndarray | None = None,
        category: str | None = None,
        brand: str | None = None,
    ) -> RerankContext:
        """Popularity from `train`, category / brand codes from its item feature columns of those names.

        A multi-valued column (e.g. MovieLens genres) gives each item its first listed value.
        """
        return cls(
            item_vectors=item_vectors,
            item_popularity=train.item_popularity(),
            item_category=_feature_codes(train, category, "category"),
            item_brand=_feature_codes(train, brand, "brand"),
        )


def _feature_codes(train: Dataset, column: str | None, parameter: str) -> np.ndarray | None:
    """(n_items,) 0-based codes of a categorical or multi-valued item column (first value), -1 where missing."""
    if column is None:
        return None
    features = train.item_features
    if features is None or column not in features:
        names = features.names() if features is not None else []
        raise ConfigError(f"{parameter}={column!r}: no such item feature column; expected one of {names}")
    col = features[column]
    if isinstance(col, CategoricalColumn):
        return col.codes.astype(np.int64) - 1
    if isinstance(col, MultiValuedColumn):
        has = np.diff(col.offsets) > 0
        codes = np.full(features.n, -1, dtype=np.int64)
        codes[has] = col.codes[col.offsets[:-1][has]] - 1
        return codes
    raise ConfigError(f"{parameter}={column!r} is numeric; expected a categorical or multi-valued column")


class RerankStep(Protocol):
    """One composable step: (items, scores) (b, k) -> reordered / filtered (b, k') with -1 / -inf padding."""

    def __call__(self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext) -> tuple[np.ndarray, np.ndarray]: ...
