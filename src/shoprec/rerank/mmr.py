"""Maximal marginal relevance (Carbonell & Goldstein, 1998): diversity by greedy selection.

Each position takes the candidate maximising  lambda * relevance - (1 - lambda) * max similarity to the
items already chosen. Relevance is the model's score rescaled to [0, 1] per row (min-max over the row's
candidates), so lambda trades the same amounts for any model. The greedy loop runs over the n output
positions; each iteration is array operations over all users and candidates at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from shoprec.exceptions import ConfigError
from shoprec.rerank.context import RerankContext
from shoprec.rerank.rows import score_range

#: Rows per chunk are chosen so a chunk's (rows, k, d) candidate vectors stay about this many floats.
FEATURE_BUDGET = 1 << 24


@dataclass(frozen=True)
class MMR:
    """Reorder each row by MMR and keep the first `n` (all k candidates when None).

    Similarity is the cosine of `ctx.item_vectors`; when the context has no vectors it falls back to
    category equality (1 for two items of the same known category, else 0). lambda_=1 keeps the input
    order; lower values trade relevance for diversity. Output scores are the input (model) scores.
    """

    lambda_: float
    n: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.lambda_ <= 1.0:
            raise ConfigError(f"MMR lambda must be in [0, 1], got {self.lambda_}")
        if self.n is not None and self.n <= 0:
            raise ConfigError(f"MMR n must be > 0, got {self.n}")

    def truncated(self, n: int) -> MMR:
        """A copy that selects only `n` positions: the Reranker uses it when nothing after MMR drops items."""
        return replace(self, n=n if self.n is None else min(self.n, n))

    def __call__(self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext) -> tuple[np.ndarray, np.ndarray]:
        b, k = items.shape
        n = k if self.n is None else min(self.n, k)
        out_items = np.full((b, n), -1, dtype=np.int64)
        out_scores = np.full((b, n), -np.inf, dtype=np.float32)
        width = 1 if ctx.item_vectors is None else ctx.item_vectors.shape[1]
        rows = max(1, FEATURE_BUDGET // max(k * width, 1))
        for start in range(0, b, rows):
            part = slice(start, start + rows)
            out_items[part], out_scores[part] = self._select(items[part], scores[part], ctx, n)
        return out_items, out_scores

    def _select(
        self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Greedy MMR for one chunk of rows: n iterations of (rows, k) array operations."""
        b = len(items)
        low, spread = score_range(scores)
        valid = items >= 0
        relevance = (np.where(valid, scores, low) - low) / spread  # in [0, 1]; padding read as the minimum
        gain = np.where(valid, self.lambda_ * relevance, -np.inf)
        features = candidate_features(items, ctx)
        max_sim = np.zeros(items.shape)  # the empty set's term; replaced by real maxima after the first pick
        rows = np.arange(b)
        picks = np.empty((b, n), dtype=np.int64)
        found = np.empty((b, n), dtype=bool)
        for position in range(n):
            objective = gain - (1.0 - self.lambda_) * max_sim  # -inf stays -inf: padding and picked items
            picks[:, position] = pick = objective.argmax(axis=1)  # ties: the earlier (better ranked) candidate
            found[:, position] = np.isfinite(objective[rows, pick])
            gain[rows, pick] = -np.inf
            if position + 1 < n:
                picked_sim = similarity_to(features, rows, pick)
                max_sim = picked_sim if position == 0 else np.maximum(max_sim, picked_sim, out=max_sim)
        out_items = np.where(found, np.take_along_axis(items, picks, axis=1), -1)
        return out_items, np.where(found, np.take_along_axis(scores, picks, axis=1), -np.inf).astype(np.float32)


def candidate_features(items: np.ndarray, ctx: RerankContext) -> np.ndarray:
    """What similarity is computed from: (b, k, d) unit item vectors, else (b, k) category codes."""
    safe = np.where(items >= 0, items, 0)
    if ctx.item_vectors is not None:
        vectors = np.asarray(ctx.item_vectors, dtype=np.float32)[safe]
        norms = np.linalg.norm(vectors, axis=2, keepdims=True)
        return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    if ctx.item_category is not None:
        return ctx.item_category[safe]
    raise ConfigError("MMR needs RerankContext.item_vectors or, as a fallback, item_category; both are None")


def similarity_to(features: np.ndarray, rows: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """(b, k) similarity of every candidate to the one picked per row: cosine, or 1 for the same known category.

    Only the n picked columns of the (b, k, k) similarity matrix are ever needed, so they are computed
    one position at a time: O(n k d) per row instead of O(k^2 d).
    """
    picked = features[rows, pick]
    if features.ndim == 3:
        return (features @ picked[:, :, None])[:, :, 0]
    return ((features == picked[:, None]) & (picked[:, None] >= 0)).astype(np.float32)
