"""Beyond-accuracy metrics of the recommended lists: coverage, novelty, diversity, long tail, exposure Gini.

All functions take `recs`, the (n_users, K) recommended item indices best first, where -1 pads short
lists and is ignored, and compute values at several cut-offs `ks` from one cumulative pass.
Per-user values (novelty, diversity, tail share, average popularity) feed confidence intervals and
segments; list-level values (coverage, Gini) come from exposure counts, which the bootstrap reweights.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from shoprec.data.features import CategoricalColumn, FeatureTable, MultiValuedColumn
from shoprec.exceptions import ConfigError

#: Share of the catalog (the most popular items in training) that forms the "head"; the rest is the tail.
HEAD_SHARE = 0.2


def head_items(popularity: np.ndarray, share: float = HEAD_SHARE) -> np.ndarray:
    """(n_items,) bool: the ceil(share * n_items) most popular items (ties by index); never-seen items are tail."""
    popularity = np.asarray(popularity)
    order = np.argsort(-popularity, kind="stable")
    head = np.zeros(len(popularity), dtype=bool)
    head[order[: int(np.ceil(share * len(popularity)))]] = True
    return head & (popularity > 0)


def self_information(popularity: np.ndarray) -> np.ndarray:
    """(n_items,) -log2 p(item), p = Laplace-smoothed share of training interactions (finite for unseen items)."""
    popularity = np.asarray(popularity, dtype=np.float64)
    return -np.log2((popularity + 1.0) / (popularity.sum() + len(popularity)))


def list_means(recs: np.ndarray, values: np.ndarray, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """Per user and cut-off k, the mean of `values[item]` over the valid items of the top-k (NaN if none)."""
    padded = np.append(np.asarray(values, dtype=np.float64), 0.0)  # index -1 reads the 0 pad
    total = np.cumsum(padded[recs], axis=1)
    count = np.cumsum(recs >= 0, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {k: np.where(count[:, k - 1] > 0, total[:, k - 1] / count[:, k - 1], np.nan) for k in ks}


def intra_list_diversity(recs: np.ndarray, vectors: np.ndarray, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """Per user and cut-off k, the mean pairwise cosine distance of the top-k items (NaN under 2 items).

    Uses sum_{i != j} cos(v_i, v_j) = ||sum_i u_i||^2 - sum_i ||u_i||^2 with u = v / ||v||, so a list costs
    O(k d) instead of O(k^2 d); the sums grow from one cut-off to the next with torch's `embedding_bag`.
    Items with a zero vector are at distance 1 from everything.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    unit = np.vstack([unit, np.zeros((1, unit.shape[1]), np.float32)])  # row n_items: the padding's zero vector
    index = np.where(recs >= 0, recs, len(vectors))
    self_total = np.cumsum(np.square(unit, dtype=np.float64).sum(axis=1)[index], axis=1)
    count = np.cumsum(recs >= 0, axis=1)
    weight, rows = torch.from_numpy(unit), torch.from_numpy(index)
    total = torch.zeros(len(recs), unit.shape[1], dtype=torch.float32)
    out: dict[int, np.ndarray] = {}
    start = 0
    for k in sorted(ks):  # add the positions between consecutive cut-offs
        total += torch.nn.functional.embedding_bag(rows[:, start:k].contiguous(), weight, mode="sum")
        start = k
        pairs = (count[:, k - 1] * (count[:, k - 1] - 1)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_sim = (np.square(total.numpy(), dtype=np.float64).sum(axis=1) - self_total[:, k - 1]) / pairs
        out[k] = np.where(pairs > 0, 1.0 - mean_sim, np.nan)
    return out


def exposure_counts(
    recs: np.ndarray, n_items: int, ks: Sequence[int], user_weights: np.ndarray | None = None
) -> dict[int, np.ndarray]:
    """How often each item is recommended in the top-k: (n_items,), or (B, n_items) with user_weights (B, n_users).

    The weights (e.g. bootstrap multiplicities) count each user's list that many times.
    """
    n_users = len(recs)
    counts = np.zeros(n_items if user_weights is None else (len(user_weights), n_items))
    out: dict[int, np.ndarray] = {}
    start = 0
    for k in sorted(ks):  # add the positions between consecutive cut-offs
        block = recs[:, start:k]
        rows, cols = np.nonzero(block >= 0)
        if user_weights is None:
            counts = counts + np.bincount(block[rows, cols], minlength=n_items)
        else:
            ones = np.ones(len(rows), dtype=np.float32)
            exposure = sp.csc_matrix((ones, (block[rows, cols], rows)), shape=(n_items, n_users))
            counts = counts + (exposure @ np.asarray(user_weights, dtype=np.float32).T).T
        out[k] = counts
        start = k
    return out


def coverage(counts: np.ndarray) -> np.ndarray | float:
    """Catalog coverage: share of items recommended at least once (along the last axis of `counts`)."""
    return (np.asarray(counts) > 0).mean(axis=-1)


def gini(counts: np.ndarray) -> np.ndarray | float:
    """Gini coefficient of exposure along the last axis: 0 = every item equally often, -> 1 = one item only."""
    ordered = np.sort(np.asarray(counts, dtype=np.float64), axis=-1)
    n = ordered.shape[-1]
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    total = ordered.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (ordered * weights).sum(axis=-1) / (n * total), np.nan)


def per_user_beyond(
    recs: np.ndarray, ks: Sequence[int], popularity: np.ndarray, vectors: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-user `novelty@k`, `tail_share@k`, `avg_pop@k` and, given item vectors, `diversity@k`.

    popularity: (n_items,) training interactions per item; vectors: (n_items, d) for diversity.
    """
    item_values = {
        "novelty": self_information(popularity),
        "tail_share": ~head_items(popularity),
        "avg_pop": popularity,
    }
    out = {f"{name}@{k}": v for name, values in item_values.items() for k, v in list_means(recs, values, ks).items()}
    if vectors is not None:
        out.update({f"diversity@{k}": v for k, v in intra_list_diversity(recs, vectors, ks).items()})
    return out


def list_level(counts: dict[int, np.ndarray]) -> dict[str, np.ndarray | float]:
    """`coverage@k` and `gini@k` from exposure counts per cut-off (floats, or (B,) arrays for bootstrap counts)."""
    return {f"{name}@{k}": fn(c) for name, fn in (("coverage", coverage), ("gini", gini)) for k, c in counts.items()}


def feature_vectors(table: FeatureTable, column: str) -> np.ndarray:
    """(n_items, cardinality - 1) one-hot / multi-hot vectors of a categorical or multi-valued item feature.

    Dense, so meant for columns with a small vocabulary of values (genres, categories). The reserved
    "missing" code 0 is dropped, so items without a value get a zero vector.
    """
    if column not in table:
        raise ConfigError(f"item_vectors: no item feature column {column!r}; expected one of {table.names()}")
    col = table[column]
    if isinstance(col, MultiValuedColumn):
        return col.to_dense()[:, 1:]
    if isinstance(col, CategoricalColumn):
        return np.eye(col.cardinality, dtype=np.float32)[col.codes][:, 1:]
    raise ConfigError(f"item_vectors: column {column!r} is numeric; expected a categorical or multi-valued one")
