"""Category (or brand) caps: no more than `max_per_category` items of one value in a list."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoprec.exceptions import ConfigError
from shoprec.rerank.context import RerankContext
from shoprec.rerank.rows import compact


@dataclass(frozen=True)
class CategoryCap:
    """Walk each row best first and keep an item while its category has fewer than `max_per_category` kept.

    Since rows are best first, this keeps the best items under the cap. Items of unknown category (-1)
    are never capped. Dropped items leave the row; the rest move up and the end is padded.
    field: "category" or "brand" (the RerankContext array the cap reads).
    """

    max_per_category: int
    field: str = "category"

    def __post_init__(self) -> None:
        if self.max_per_category <= 0:
            raise ConfigError(f"CategoryCap max_per_category must be > 0, got {self.max_per_category}")
        if self.field not in ("category", "brand"):
            raise ConfigError(f"CategoryCap field must be 'category' or 'brand', got {self.field!r}")

    def __call__(self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext) -> tuple[np.ndarray, np.ndarray]:
        codes = ctx.codes(self.field)
        value = np.where(items >= 0, codes[np.where(items >= 0, items, 0)], -1)
        return compact(items, scores, (value < 0) | (occurrence(value) < self.max_per_category))


def occurrence(values: np.ndarray) -> np.ndarray:
    """(b, k): how many earlier positions of the same row hold the same value (0 for the first one).

    One stable sort of (row, value) keys over the flattened batch; the position order within a group
    survives the stable sort, so the rank inside the group is the occurrence count.
    """
    b, k = values.shape
    keys = (np.arange(b, dtype=np.int64)[:, None] * (int(values.max(initial=0)) + 2) + values + 1).ravel()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    group_start = starts[np.searchsorted(starts, np.arange(len(keys)), side="right") - 1]
    out = np.empty(len(keys), dtype=np.int64)
    out[order] = np.arange(len(keys)) - group_start
    return out.reshape(b, k)
