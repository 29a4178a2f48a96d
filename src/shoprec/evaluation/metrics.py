"""Ranking metrics of one recommendation list: pure functions of (ranked ids, relevant ids).

`ranked` holds item ids best first (-1 marks padding and never matches); `relevant` holds the user's
held-out item ids (duplicates count once). Each function returns a float, NaN where the metric is
undefined (no relevant item for the recall-like ones). These are the readable reference definitions;
`shoprec.evaluation.batch` computes the same numbers for all users at once and is tested against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from shoprec.evaluation.labelled import roc_auc
from shoprec.exceptions import ConfigError

IdList = Iterable[int] | np.ndarray


def _ids(values: IdList) -> np.ndarray:
    return np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.int64).reshape(-1)


def _hits(ranked: IdList, relevant: IdList, k: int) -> tuple[np.ndarray, int]:
    """(min(k, len(ranked)),) bool hit flags of the top-k and the number of distinct relevant items."""
    if k <= 0:
        raise ConfigError(f"k must be > 0, got {k}")
    top = _ids(ranked)[:k]
    rel = np.unique(_ids(relevant))
    rel = rel[rel >= 0]
    return np.isin(top, rel) & (top >= 0), len(rel)


def _discounts(n: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..n: the DCG position discount."""
    return 1.0 / np.log2(np.arange(2, n + 2))


def precision(ranked: IdList, relevant: IdList, k: int) -> float:
    """Share of the k slots that hold a relevant item (a short list still divides by k)."""
    hits, _ = _hits(ranked, relevant, k)
    return float(hits.sum() / k)


def recall(ranked: IdList, relevant: IdList, k: int) -> float:
    """Share of the relevant items found in the top-k; NaN without relevant items."""
    hits, n_rel = _hits(ranked, relevant, k)
    return float(hits.sum() / n_rel) if n_rel else float("nan")


def f1(ranked: IdList, relevant: IdList, k: int) -> float:
    """Harmonic mean of precision@k and recall@k (0 when both are 0)."""
    p, r = precision(ranked, relevant, k), recall(ranked, relevant, k)
    if np.isnan(r):
        return float("nan")
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def hit_rate(ranked: IdList, relevant: IdList, k: int) -> float:
    """1 when any relevant item is in the top-k, else 0."""
    hits, _ = _hits(ranked, relevant, k)
    return float(hits.any())


def ndcg(ranked: IdList, relevant: IdList, k: int) -> float:
    """Binary-relevance NDCG@k: DCG over the ideal DCG of min(|relevant|, k) hits at the top."""
    hits, n_rel = _hits(ranked, relevant, k)
    if n_rel == 0:
        return float("nan")
    dcg = float((hits * _discounts(len(hits))).sum())
    return dcg / float(_discounts(min(n_rel, k)).sum())


def graded_ndcg(ranked: IdList, gains: Mapping[int, float], k: int) -> float:
    """NDCG@k with graded relevance and linear gains (as scikit-learn's `ndcg_score`); NaN if no gain > 0."""
    if k <= 0:
        raise ConfigError(f"k must be > 0, got {k}")
    top = [int(i) for i in ranked][:k]
    got = np.array([gains.get(i, 0.0) if i >= 0 else 0.0 for i in top], dtype=np.float64)
    ideal = np.sort(np.array([g for g in gains.values() if g > 0], dtype=np.float64))[::-1][:k]
    if len(ideal) == 0:
        return float("nan")
    return float((got * _discounts(len(got))).sum() / (ideal * _discounts(len(ideal))).sum())


def mrr(ranked: IdList, relevant: IdList, k: int) -> float:
    """Reciprocal rank of the first relevant item within the top-k (0 when none)."""
    hits, _ = _hits(ranked, relevant, k)
    first = np.flatnonzero(hits)
    return 1.0 / (first[0] + 1) if len(first) else 0.0


def average_precision(ranked: IdList, relevant: IdList, k: int) -> float:
    """AP@k: mean of precision@i over the ranks i of the hits, normalised by min(|relevant|, k)."""
    hits, n_rel = _hits(ranked, relevant, k)
    if n_rel == 0:
        return float("nan")
    precisions = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precisions * hits).sum() / min(n_rel, k))


def auc(scores: np.ndarray, relevant: IdList, *, exclude: IdList = ()) -> float:
    """One user's AUC: share of (relevant, other) item pairs ordered correctly, ties counting one half.

    scores: (n_items,) the user's score of every item. `exclude` (e.g. training items) takes no part.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.zeros(len(scores), dtype=bool)
    labels[_ids(relevant)] = True
    keep = np.ones(len(scores), dtype=bool)
    keep[_ids(exclude)] = False
    keep |= labels
    return roc_auc(labels[keep], scores[keep])
