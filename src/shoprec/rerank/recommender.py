"""Any fitted model with re-ranking on top, behind the same `recommend`, so evaluation measures what is served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoprec.exceptions import ConfigError
from shoprec.models.base import Recommender
from shoprec.rerank.context import RerankContext
from shoprec.rerank.reranker import Reranker


class RerankedRecommender:
    """`recommend` takes the base model's top `candidates` and re-ranks them to n; everything else is the base's.

    An evaluation / serving wrapper, not an artifact: `save` refuses (save the base model and the
    pipeline config instead). Scores that do not go through `recommend` (`score`, `score_all`, hence
    the evaluator's AUC) are the base model's. The wrapper is not a VectorRecommender, so give `evaluate`
    `item_vectors=` to measure diversity with the base model's vectors when the data has no item features.
    """

    def __init__(self, base: Recommender, reranker: Reranker, ctx: RerankContext, candidates: int = 100) -> None:
        if candidates <= 0:
            raise ConfigError(f"candidates must be > 0, got {candidates}")
        self.base = base
        self.reranker = reranker
        self.ctx = ctx
        self.candidates = candidates

    def __getattr__(self, name: str) -> Any:
        # only reached for names not found on the wrapper itself: fitted state, score, vectors, ...
        if "base" not in self.__dict__:  # during construction or copying
            raise AttributeError(name)
        return getattr(self.__dict__["base"], name)

    def __repr__(self) -> str:
        return f"RerankedRecommender({self.base!r}, {self.reranker!r}, candidates={self.candidates})"

    def recommend(
        self, users: np.ndarray | list[int] | int, n: int = 10, **options: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like `Recommender.recommend` (options such as exclude_seen, exclude, candidates pass through to the
        base model): (b, n) items and scores, -1 / -inf padded, after re-ranking the top `candidates`."""
        if n <= 0:
            raise ConfigError(f"n must be > 0, got {n}")
        items, scores = self.base.recommend(users, max(n, self.candidates), **options)
        return self.reranker.apply(items, scores, self.ctx, n)

    def save(self, path: str | Path) -> Path:
        raise ConfigError(
            "RerankedRecommender is an evaluation/serving wrapper, not an artifact: save its base model "
            "and put the re-ranking steps in the pipeline config"
        )
