"""Business rules: items that must never be shown, and per-item boosts (promotions, margins)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from shoprec.exceptions import ConfigError
from shoprec.rerank.context import RerankContext
from shoprec.rerank.rows import compact, sort_by_score


@dataclass(frozen=True, eq=False)  # arrays inside: identity equality
class BusinessRules:
    """Drop excluded items, add boosts to the scores of boosted items, re-sort rows by score.

    exclude: a (n_items,) bool mask or an array of item indices. boost: item index -> amount added to
    its score (on the model's score scale; negative demotes). Build it once (the mask costs O(largest
    excluded index)); a call then costs O(b k). Per-user exclusions (e.g. purchased) belong to retrieval.
    """

    exclude: np.ndarray | None = None
    boost: Mapping[int, float] | None = None
    _excluded: np.ndarray = field(init=False, repr=False)  # bool mask up to the largest excluded index
    _boost_items: np.ndarray = field(init=False, repr=False)
    _boost_values: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        exclude = np.asarray(self.exclude if self.exclude is not None else [])
        if exclude.dtype == bool:
            exclude = np.flatnonzero(exclude)
        if exclude.size and (not np.issubdtype(exclude.dtype, np.integer) or exclude.min() < 0):
            raise ConfigError("BusinessRules exclude must be a bool mask or non-negative item indices")
        boost = dict(self.boost or {})
        items = np.asarray(sorted(boost), dtype=np.int64)
        if items.size and items.min() < 0:
            raise ConfigError(f"BusinessRules boost keys must be item indices >= 0, got {int(items.min())}")
        mask = np.zeros(int(exclude.max()) + 1 if exclude.size else 0, dtype=bool)
        mask[exclude.astype(np.int64)] = True
        object.__setattr__(self, "_excluded", mask)
        object.__setattr__(self, "_boost_items", items)
        object.__setattr__(self, "_boost_values", np.asarray([boost[i] for i in items], dtype=np.float32))

    def __call__(self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext) -> tuple[np.ndarray, np.ndarray]:
        if self._excluded.size:  # O(b k) lookups, whatever the number of excluded items
            inside = (items >= 0) & (items < len(self._excluded))
            items, scores = compact(items, scores, ~(inside & self._excluded[np.where(inside, items, 0)]))
        if not self._boost_items.size:
            return items, scores
        where = np.searchsorted(self._boost_items, items).clip(0, len(self._boost_items) - 1)
        found = (self._boost_items[where] == items) & (items >= 0)
        return sort_by_score(items, scores + np.where(found, self._boost_values[where], 0.0).astype(np.float32))
