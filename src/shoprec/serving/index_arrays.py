"""Array helpers of the item index: input checks, exact top-k rows, exclusion pairs, padding, recall."""

from __future__ import annotations

import numpy as np

from shoprec.exceptions import ConfigError


def as_matrix(x: object, name: str, dim: int | None = None, *, copy: bool = False) -> np.ndarray:
    """A finite 2-D float32 C-contiguous array (with `dim` columns when given), or ConfigError naming `name`."""
    try:
        arr = np.array(x, dtype=np.float32, order="C", copy=copy or None)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a numeric array, got {type(x).__name__}") from None
    if arr.ndim != 2 or (dim is not None and arr.shape[1] != dim) or arr.shape[1] == 0:
        expected = f"(rows, {dim})" if dim is not None else "(rows, dim) with dim >= 1"
        raise ConfigError(f"{name} must have shape {expected}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ConfigError(f"{name} must be finite (no NaN or inf)")
    return arr


def check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(b, k) column positions and scores of each row's k largest scores, best first (ties: lower position);
    rows with fewer than k columns are padded with position -1 and score -inf."""
    b, m = scores.shape
    kk = min(k, m)
    pos = np.argpartition(-scores, kk - 1, axis=1)[:, :kk] if kk < m else np.tile(np.arange(m), (b, 1))
    pos.sort(axis=1)
    top = np.take_along_axis(scores, pos, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    pos, top = np.take_along_axis(pos, order, axis=1), np.take_along_axis(top, order, axis=1)
    out_pos = np.full((b, k), -1, dtype=np.int64)
    out_scores = np.full((b, k), -np.inf, dtype=np.float32)
    out_pos[:, :kk], out_scores[:, :kk] = pos, top
    out_pos[out_scores == -np.inf] = -1
    return out_pos, out_scores


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact result ids (b, k) (-1 padding ignored) that `found` (b, k) contains, over all rows."""
    hits = (found[:, :, None] == exact[:, None, :]) & (exact[:, None, :] >= 0)
    return float(hits.any(axis=1).sum() / max((exact >= 0).sum(), 1))


#: Exclusions as (query rows, items): two parallel int64 arrays.
Pairs = tuple[np.ndarray, np.ndarray]


def exclusion_pairs(exclude: list[np.ndarray] | None) -> Pairs:
    """Per-query exclusion lists flattened to (query row, item) pairs."""
    if not exclude:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if len(exclude) == 1:  # one query (a served request): no concatenation needed
        items = np.asarray(exclude[0], dtype=np.int64)
        return np.zeros(len(items), np.int64), items
    lengths = np.array([len(e) for e in exclude], dtype=np.int64)
    items = np.concatenate(exclude).astype(np.int64, copy=False) if lengths.sum() else np.zeros(0, np.int64)
    return np.repeat(np.arange(len(exclude)), lengths), items


def rows_of(pairs: Pairs, rows: np.ndarray) -> Pairs:
    """The pairs of the query `rows` (sorted, distinct), renumbered 0..len(rows)-1."""
    renumber = np.full(int(pairs[0].max(initial=-1)) + 1, -1, dtype=np.int64)
    renumber[rows[rows < len(renumber)]] = np.flatnonzero(rows < len(renumber))
    new_rows = renumber[pairs[0]]
    keep = new_rows >= 0
    return new_rows[keep], pairs[1][keep]


def drop_excluded(ids: np.ndarray, scores: np.ndarray, pairs: Pairs, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(b, m) results, best first, without each row's excluded items: the rest move up in order and the freed
    places at the end hold -1 / -inf. One row (a served request) is filtered through a set of its excluded
    items: a few microseconds, where each numpy call on such tiny arrays costs about one. Several rows take one
    binary search over the sorted (row, item) keys."""
    if len(pairs[1]) == 0:
        return ids, scores
    if len(ids) == 1:
        return _drop_from_row(ids, scores, set(pairs[1][pairs[0] == 0].tolist()))
    keys = np.sort(pairs[0] * n + pairs[1])
    found = (np.arange(len(ids))[:, None] * n + ids).reshape(-1)
    hit = (keys[np.searchsorted(keys, found).clip(max=len(keys) - 1)] == found).reshape(ids.shape) & (ids >= 0)
    if not hit.any():
        return ids, scores
    order = np.argsort(hit, axis=1, kind="stable")  # kept results first, still best first
    rows = np.arange(len(ids))[:, None]
    ids, scores = ids[rows, order], scores[rows, order]
    dropped = np.sort(hit, axis=1)
    ids[dropped], scores[dropped] = -1, -np.inf
    return ids, scores


def _drop_from_row(ids: np.ndarray, scores: np.ndarray, excluded: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """`drop_excluded` for (1, m) results."""
    kept = [j for j, item in enumerate(ids[0].tolist()) if item < 0 or item not in excluded]
    if len(kept) == ids.shape[1]:
        return ids, scores
    out_ids = np.full(ids.shape, -1, dtype=ids.dtype)
    out_scores = np.full(scores.shape, -np.inf, dtype=scores.dtype)
    out_ids[0, : len(kept)], out_scores[0, : len(kept)] = ids[0, kept], scores[0, kept]
    return out_ids, out_scores


def pad_rows(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad (b, m) results with m <= k to (b, k) with -1 / -inf."""
    missing = k - ids.shape[1]
    if missing <= 0:
        return ids, scores
    return (
        np.pad(ids, ((0, 0), (0, missing)), constant_values=-1),
        np.pad(scores, ((0, 0), (0, missing)), constant_values=-np.inf),
    )
