"""Batch operations on (b, k) candidate rows that several steps share: drop, re-sort, rescale, fit to n.

Every function keeps the padding convention: item -1 with score -inf, always at the end of a row.
"""

from __future__ import annotations

import numpy as np

from shoprec.exceptions import ConfigError


def check_rows(items: np.ndarray, scores: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated int64 / float32 copies-or-views of a batch; ConfigError naming the bad argument."""
    items = np.asarray(items, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    if items.ndim != 2 or items.shape != scores.shape:
        raise ConfigError(f"items and scores must both be (b, k) arrays, got {items.shape} and {scores.shape}")
    if items.size and (items.min() < -1 or items.max() >= n_items):
        raise ConfigError(f"items must be item indices in [0, {n_items}) or -1 padding; the context has {n_items}")
    return items, scores


def compact(items: np.ndarray, scores: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the entries where `keep` (b, k) is True, in their order, moved to the front; the rest becomes padding."""
    keep = keep & (items >= 0)
    order = np.argsort(~keep, axis=1, kind="stable")
    kept = np.take_along_axis(keep, order, axis=1)
    out_items = np.where(kept, np.take_along_axis(items, order, axis=1), -1)
    out_scores = np.where(kept, np.take_along_axis(scores, order, axis=1), -np.inf).astype(np.float32)
    return out_items, out_scores


def sort_by_score(items: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows re-sorted by descending score (ties keep their order), padding last: after a step changed scores."""
    scores = np.where(items >= 0, scores, -np.inf).astype(np.float32)
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(items, order, axis=1), np.take_along_axis(scores, order, axis=1)


def score_range(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(b, 1) minimum and spread (max - min, 1 where a row has under two distinct finite scores) per row.

    Steps that mix a model's score with another quantity rescale by these, so a knob means the same
    trade-off whatever the model's score scale.
    """
    finite = np.isfinite(scores)
    low = np.where(finite, scores, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, scores, -np.inf).max(axis=1, keepdims=True)
    spread = high - low
    ok = np.isfinite(spread) & (spread > 0)
    return np.where(np.isfinite(low), low, 0.0), np.where(ok, spread, 1.0)


def fit_width(items: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut rows to the first `n` columns, or pad them with -1 / -inf up to `n`."""
    b, k = items.shape
    if k >= n:
        return items[:, :n], scores[:, :n]
    pad = n - k
    return (
        np.hstack([items, np.full((b, pad), -1, dtype=np.int64)]),
        np.hstack([scores, np.full((b, pad), -np.inf, dtype=np.float32)]),
    )
