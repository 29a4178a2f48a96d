"""Per-segment breakdown of per-user metrics: by length of the user's history and by item popularity.

User segments use fixed bins of the number of training interactions (not quantiles), so that a segment
means the same across models and data sets: `users:history=0` (cold), `1-5`, `6-20`, `21+`.
Item segments restrict recall to the relevant items in the popularity head or in the long tail (see
`shoprec.evaluation.beyond.head_items`), which shows whether a model only gets the popular items right.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from shoprec.evaluation.batch import ranking_metrics
from shoprec.evaluation.confidence import finite_mean

#: (label, lowest, highest) number of training interactions; None = no upper bound.
HISTORY_BINS: tuple[tuple[str, int, int | None], ...] = (("0", 0, 0), ("1-5", 1, 5), ("6-20", 6, 20), ("21+", 21, None))


def _summary(mask: np.ndarray, per_user: dict[str, np.ndarray], names: Sequence[str]) -> dict[str, float]:
    """n_users of the segment and the mean of each named metric over its users (NaN values skipped)."""
    return {"n_users": float(mask.sum())} | {name: finite_mean(per_user[name][mask]) for name in names}


def history_segments(
    history: np.ndarray, per_user: dict[str, np.ndarray], names: Sequence[str]
) -> dict[str, dict[str, float]]:
    """`users:history=<bin>` -> summary of `names`, for the bins that hold at least one user.

    history: (n_users,) training interactions of each evaluated user, aligned with the per-user arrays.
    """
    history = np.asarray(history)
    out: dict[str, dict[str, float]] = {}
    for label, low, high in HISTORY_BINS:
        mask = (history >= low) & (history <= (high if high is not None else np.inf))
        if mask.any():
            out[f"users:history={label}"] = _summary(mask, per_user, names)
    return out


def popularity_segments(
    hit_items: np.ndarray, relevant: sp.csr_matrix, head: np.ndarray, k: int
) -> dict[str, dict[str, float]]:
    """`items:head` / `items:tail` -> recall@k and hr@k counting only relevant items of that part.

    hit_items: (n_users, K) the relevant item at each rank, -1 where the rank holds no relevant item (as
    `RankingRun.hit_items`); relevant: (n_users, n_items) sparse relevant items; head: (n_items,) bool.
    Users without a relevant item in the part are left out of its mean.
    """
    rel = relevant.tocsr()
    rel_rows = np.repeat(np.arange(rel.shape[0]), np.diff(rel.indptr))
    names = (f"recall@{k}", f"hr@{k}")
    out: dict[str, dict[str, float]] = {}
    for label, in_part in (("head", head), ("tail", ~head)):
        n_rel = np.bincount(rel_rows, weights=in_part[rel.indices], minlength=rel.shape[0])
        part_hits = (hit_items >= 0) & in_part[np.where(hit_items >= 0, hit_items, 0)]
        per_user = ranking_metrics(part_hits, n_rel, [k])
        out[f"items:{label}"] = _summary(n_rel > 0, per_user, names)
    return out
