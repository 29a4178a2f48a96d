"""Long-tail boost: a popularity penalty that lifts less-known items, with one knob."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoprec.exceptions import ConfigError
from shoprec.rerank.context import RerankContext
from shoprec.rerank.rows import score_range, sort_by_score


@dataclass(frozen=True)
class LongTailBoost:
    """score - weight * spread * log1p(popularity) / log1p(the row's max popularity), rows re-sorted by score.

    Both scales are the row's own (spread = max - min score over its candidates), so a weight means the
    same trade-off for any model's score scale and catalog size, and a request costs O(k), not O(n_items):
    weight 1 lets the least popular candidate overtake the best one when the best is the most popular
    candidate. weight 0 is the identity.
    """

    weight: float

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ConfigError(f"LongTailBoost weight must be >= 0, got {self.weight}")

    def __call__(self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext) -> tuple[np.ndarray, np.ndarray]:
        if self.weight == 0:
            return items, scores
        log_pop = np.log1p(np.maximum(ctx.item_popularity[np.where(items >= 0, items, 0)], 0.0))
        log_pop[items < 0] = 0.0
        top = log_pop.max(axis=1, keepdims=True)
        _, spread = score_range(scores)
        penalty = self.weight * spread * np.divide(log_pop, top, out=np.zeros_like(log_pop), where=top > 0)
        return sort_by_score(items, scores - penalty)
