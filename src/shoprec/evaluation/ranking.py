"""Tie rules of full ranking: a tie-stable top-K list and pessimistic ranks of the held-out items.

Two things come out of one batch of full-catalog scores (excluded items and NaN set to -inf first):

- `stable_top`: the top-K list ordered by score, then by item index. Its first k items are the top-k for any
  K >= k, so list metrics (coverage, novelty, diversity) do not depend on the largest k asked for, as they
  did with `torch.topk`, which picks among tied items by its own internal order.
- `pessimistic_hits`: where each held-out item lands when it is placed *below* every other item of equal
  score (several tied held-out items fill the bottom of their tie block). Accuracy metrics read this, so a
  model gains nothing from ties: a constant model scores zero, as in the sampled protocol.

Both are vectorised over the batch (`torch.topk`, one row-wise sort and binary searches).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from shoprec.evaluation.batch import row_searchsorted


def nan_last(scores: np.ndarray) -> np.ndarray:
    """In place: NaN -> -inf (NaN ranks last in every protocol) and -0.0 -> +0.0 (equal scores, equal keys)."""
    scores[np.isnan(scores)] = -np.inf
    scores += np.float32(0.0)  # -0.0 + 0.0 is +0.0
    return scores


def mask_rows(scores: np.ndarray, rows: sp.csr_matrix) -> None:
    """In place: set the (row, item) entries stored in the sparse `rows` to -inf (excluded items)."""
    rows = rows.tocsr()
    row_idx = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    scores[row_idx, rows.indices] = -np.inf


def _order_keys(scores: np.ndarray) -> np.ndarray:
    """(b, n) int64 keys, distinct within a row: larger score first, then smaller item index first."""
    bits = scores.view(np.int32)
    monotone = np.where(bits < 0, bits ^ np.int32(0x7FFFFFFF), bits).astype(np.int64)  # float order as ints
    n = scores.shape[1]
    return monotone * n + (n - 1 - np.arange(n, dtype=np.int64))


def stable_top(scores: np.ndarray, k: int) -> np.ndarray:
    """(b, k) int64 top items per row by (score desc, item index asc); -1 pads where only -inf scores remain.

    scores: (b, n) float32 after `nan_last`, excluded items at -inf. A float `torch.topk` of k + 1 finds the
    rows whose k-th and (k+1)-th scores tie; only those (few, for continuous scores) are ranked again on
    int64 keys that break ties by item index. The k chosen items are then ordered by (score, index).
    """
    b, n = scores.shape
    out = np.full((b, k), -1, dtype=np.int64)
    width = min(k, n)
    if b == 0 or width == 0:
        return out
    probe = min(width + 1, n)
    values, items = (t.numpy() for t in torch.topk(torch.from_numpy(scores), probe, dim=1))
    top_items, top_values = items[:, :width].copy(), values[:, :width].copy()
    crossing = values[:, width - 1] == values[:, probe - 1] if probe > width else np.zeros(b, dtype=bool)
    if crossing.any():  # a tie straddles the cut: which tied items get in must not depend on k
        tied_rows = scores[crossing]
        top_items[crossing] = torch.topk(torch.from_numpy(_order_keys(tied_rows)), width, dim=1).indices.numpy()
        top_values[crossing] = np.take_along_axis(tied_rows, top_items[crossing], axis=1)
    order = np.lexsort((top_items, -top_values), axis=1)
    top_items = np.take_along_axis(top_items, order, axis=1)
    finite = np.isfinite(np.take_along_axis(top_values, order, axis=1))
    out[:, :width] = np.where(finite, top_items, -1)
    return out


def pessimistic_positions(scores: np.ndarray, relevant: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """0-based rank of every relevant (row, item) with its ties placed above it; -1 where its score is -inf.

    scores: (b, n) float32 after `nan_last`, excluded items at -inf; sorted in place. relevant: (b, n) sparse.
    Returns (rows, items, positions), one entry per stored relevant pair. The rank of a relevant item with
    score v is #items scoring > v + #other items scoring == v, except that relevant items tied with each other
    take the bottom slots of their tie block in turn (so positions stay distinct).
    """
    rel = relevant.tocoo()
    rows, items = rel.row.astype(np.int64), rel.col.astype(np.int64)
    values = scores[rows, items]  # a copy, taken before the sort
    scores.sort(axis=1)
    n = scores.shape[1]
    at_or_below = row_searchsorted(scores, rows, values, "right")
    above = n - at_or_below
    tied = at_or_below - row_searchsorted(scores, rows, values, "left")
    order = np.lexsort((values, rows))  # relevant pairs grouped by (row, score)
    r, v = rows[order], values[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (r[1:] != r[:-1]) | (v[1:] != v[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
    group_id = np.cumsum(new_group) - 1
    group_size = np.bincount(group_id)[group_id]
    within = np.empty(len(order), dtype=np.int64)
    within[order] = np.arange(len(order)) - group_start
    size = np.empty(len(order), dtype=np.int64)
    size[order] = group_size
    positions = above + tied - size + within
    return rows, items, np.where(np.isfinite(values), positions, -1)


def pessimistic_hits(scores: np.ndarray, relevant: sp.csr_matrix, k: int) -> np.ndarray:
    """(b, k) int64: the relevant item at each pessimistic rank < k, else -1 (see `pessimistic_positions`)."""
    rows, items, positions = pessimistic_positions(scores, relevant)
    out = np.full((scores.shape[0], k), -1, dtype=np.int64)
    shown = (positions >= 0) & (positions < k)
    out[rows[shown], positions[shown]] = items[shown]
    return out
