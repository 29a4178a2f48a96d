"""Vectorised ranking metrics for many users at once, as used by the evaluation protocols.

`ranking_metrics` turns a (n_users, K) hit matrix into every metric at every cut-off with cumulative
sums, returning per-user values (for confidence intervals and segments). `catalog_auc` computes each
user's AUC over the whole catalog from one row-wise sort. Both agree with `shoprec.evaluation.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from shoprec.exceptions import ConfigError

#: Names of the per-user list metrics `ranking_metrics` returns (each as `name@k`).
RANKING_METRICS = ("hr", "precision", "recall", "f1", "ndcg", "mrr", "map")


def ranking_metrics(hits: np.ndarray, n_relevant: np.ndarray, ks: Iterable[int] | None = None) -> dict[str, np.ndarray]:
    """Per-user `name@k` arrays (n_users,) for every name in RANKING_METRICS and every k in `ks`.

    hits: (n_users, K) bool, hits[u, r] = the item at rank r+1 of user u is relevant.
    n_relevant: (n_users,) number of relevant items, including ones the list could never reach (so recall
    is honest). ks: cut-offs <= K (all of 1..K when None). NaN where a user has no relevant item.
    """
    hits = np.asarray(hits, dtype=bool)
    n_users, width = hits.shape
    ks = list(range(1, width + 1)) if ks is None else [int(k) for k in ks]
    if any(k <= 0 or k > width for k in ks):
        raise ConfigError(f"ks must lie in 1..{width} (the list length), got {ks}")
    n_rel = np.asarray(n_relevant, dtype=np.float64).reshape(n_users)
    ranks = np.arange(1, width + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])  # ideal[m]: DCG of m hits at the top
    h = hits.astype(np.float64)
    n_hits = np.cumsum(h, axis=1)
    dcg = np.cumsum(h * discount, axis=1)
    ap_sum = np.cumsum(h * n_hits / ranks, axis=1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1), width)  # 0-based rank of the first hit
    undefined = n_rel == 0
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in ks:
            got = n_hits[:, k - 1]
            cut = np.minimum(n_rel, k)
            p = got / k
            r = np.where(undefined, np.nan, got / n_rel)
            out[f"hr@{k}"] = (got > 0).astype(np.float64)
            out[f"precision@{k}"] = p
            out[f"recall@{k}"] = r
            out[f"f1@{k}"] = np.where(p + r > 0, 2 * p * r / (p + r), np.where(undefined, np.nan, 0.0))
            out[f"ndcg@{k}"] = np.where(undefined, np.nan, dcg[:, k - 1] / ideal[cut.astype(np.int64)])
            out[f"mrr@{k}"] = np.where(first < k, 1.0 / (first + 1.0), 0.0)
            out[f"map@{k}"] = np.where(undefined, np.nan, ap_sum[:, k - 1] / cut)
    return out


def row_searchsorted(sorted_rows: np.ndarray, rows: np.ndarray, values: np.ndarray, side: str) -> np.ndarray:
    """np.searchsorted of values[j] in sorted_rows[rows[j]], for all j at once.

    A branch-free binary search: log2(width) rounds, each one gather and compare over all queries.
    """
    width = sorted_rows.shape[1]
    flat = sorted_rows.reshape(-1)
    base = rows.astype(np.int64) * width - 1
    count = np.zeros(len(rows), dtype=np.int64)  # how many entries of the row are < (or <=) the value
    step = 1 << (width.bit_length() - 1)
    while step:
        candidate = count + step
        probe = flat[base + np.minimum(candidate, width)]
        below = (probe < values) if side == "left" else (probe <= values)
        count = np.where(below & (candidate <= width), candidate, count)
        step >>= 1
    return count


def catalog_auc(
    scores: np.ndarray, positives: sp.csr_matrix, excluded: sp.csr_matrix | None = None, *, overwrite: bool = False
) -> np.ndarray:
    """Per-user AUC over the catalog: share of (positive, negative) pairs ordered correctly, ties one half.

    scores: (b, n_items); positives: (b, n_items) sparse relevant items; excluded: (b, n_items) sparse
    items that are neither (e.g. training items). Negatives are all other items; a NaN score counts as -inf
    (ranks last). Returns (b,), NaN for
    users without positives or negatives. Cost: one row-wise sort, done in `scores` itself with `overwrite`.
    """
    scores = np.array(scores, dtype=np.float32, copy=not overwrite)
    scores[np.isnan(scores)] = -np.inf  # NaN ranks last, as in every protocol
    b, n_items = scores.shape
    pos = positives.tocoo()
    pos_scores = scores[pos.row, pos.col]  # a copy, taken before the buffer is overwritten
    taken = (positives if excluded is None else positives + excluded).tocsr()
    taken.sum_duplicates()
    n_neg = n_items - np.diff(taken.indptr)
    taken_rows = np.repeat(np.arange(b), np.diff(taken.indptr))
    scores[taken_rows, taken.indices] = np.inf  # non-negatives sort after every negative of their row
    scores.sort(axis=1)
    limit = n_neg[pos.row]
    below = np.minimum(row_searchsorted(scores, pos.row, pos_scores, "left"), limit)
    at_or_below = below.copy()  # differs only where a negative ties with the positive: search those again
    tied = below < limit
    tied[tied] = scores[pos.row[tied], below[tied]] == pos_scores[tied]
    at_or_below[tied] = np.minimum(row_searchsorted(scores, pos.row[tied], pos_scores[tied], "right"), limit[tied])
    correct = np.bincount(pos.row, weights=below + 0.5 * (at_or_below - below), minlength=b)
    n_pos = np.bincount(pos.row, minlength=b)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = correct / (n_pos * n_neg.astype(np.float64))
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc
