"""Audiences for marketing: the users most likely to want an item, a set of items or a category.

A target is one (d,) vector (e.g. the mean of the target items' vectors). All users are scored against it
in chunks with a running top-k, so memory stays O(chunk + size) however many users there are, and never
a users x items matrix. Users without a vector (zero rows: no events yet, or deleted) are never picked.
"""

from __future__ import annotations

import numpy as np

from shoprec.exceptions import ConfigError, DataError


def target_vector(item_vectors: np.ndarray, items: np.ndarray) -> np.ndarray:
    """(d,) mean vector of the target items (one item, a campaign's items or a category's items)."""
    items = np.atleast_1d(np.asarray(items, dtype=np.int64))
    if len(items) == 0:
        raise ConfigError("items: an audience needs at least one target item")
    if items.min() < 0 or items.max() >= len(item_vectors):
        raise DataError(f"target item index out of range 0..{len(item_vectors) - 1}: {items.tolist()[:10]}")
    return np.asarray(item_vectors[items], dtype=np.float64).mean(axis=0).astype(np.float32)


def audience(
    user_vectors: np.ndarray,
    target: np.ndarray,
    size: int,
    *,
    min_score: float | None = None,
    excluded: np.ndarray | None = None,
    chunk: int = 65_536,
) -> tuple[np.ndarray, np.ndarray]:
    """The `size` users scoring highest against `target`, best first.

    user_vectors: (n_users, d); target: (d,); excluded: user indices never to pick (e.g. bought recently,
    over the frequency cap); min_score: keep only users scoring at least this. Ties go to the lower user
    index, so the answer does not depend on `chunk`. Returns (user indices int64, scores float32), each of
    length min(size, eligible users).
    """
    if size <= 0:
        raise ConfigError(f"size must be > 0, got {size}")
    if chunk <= 0:
        raise ConfigError(f"chunk must be > 0, got {chunk}")
    target = np.asarray(target, dtype=np.float32).reshape(-1)
    if user_vectors.ndim != 2 or user_vectors.shape[1] != len(target):
        raise DataError(f"user vectors have shape {user_vectors.shape}, expected (n_users, {len(target)})")
    n_users = len(user_vectors)
    blocked = np.zeros(n_users, dtype=bool)
    if excluded is not None and len(excluded):
        excluded = np.asarray(excluded, dtype=np.int64)
        blocked[excluded[(excluded >= 0) & (excluded < n_users)]] = True
    best_users, best_scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
    for start in range(0, n_users, chunk):
        block = user_vectors[start : start + chunk]
        scores = block @ target
        keep = ~blocked[start : start + len(block)] & np.any(block != 0, axis=1) & ~np.isnan(scores)
        if min_score is not None:
            keep &= scores >= min_score
        users = np.flatnonzero(keep) + start
        best_users, best_scores = _top(
            np.concatenate([best_users, users]), np.concatenate([best_scores, scores[keep]]), size
        )
    return best_users, best_scores


def _top(users: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (score descending, then user ascending) of the candidates, in that order."""
    if len(users) > k:
        # argpartition finds the k-th score; every candidate at least that good is kept, so ties are
        # resolved below by user index and not by where argpartition happened to put them.
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        pool = scores >= kth
        users, scores = users[pool], scores[pool]
    order = np.lexsort((users, -scores))[:k]
    return users[order], scores[order]
