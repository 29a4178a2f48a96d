"""Evaluation protocols: full ranking (the default), sampled candidates (to compare with papers), ratings.

Full ranking scores the whole catalog with the scores serving uses, breaks ties pessimistically for the
held-out items (see `ranking`) and NaN last. Every held-out item counts as relevant, also items never seen
in training, and those count as misses (a model gets no credit for an item it never learned), so recall is
honest and no model is favoured by dropping a shop's new items. The sampled protocol ranks each held-out item
among given negatives, with the same tie and NaN rules.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from shoprec.data.dataset import Dataset
from shoprec.evaluation.batch import catalog_auc, ranking_metrics
from shoprec.evaluation.labelled import mae, rmse
from shoprec.evaluation.ranking import mask_rows, nan_last, pessimistic_hits, stable_top
from shoprec.exceptions import DataError
from shoprec.models.base import SCORE_BUDGET, Recommender

#: Metrics the sampled protocol reports per cut-off (recall equals hr and map equals mrr with one positive).
SAMPLED_METRICS = ("hr", "ndcg", "mrr")


@dataclass(frozen=True)
class RankingRun:
    """What a protocol measured for each evaluated user (row)."""

    users: np.ndarray  # (n,) evaluated user indices
    per_user: dict[str, np.ndarray]  # "name@k" or "auc" -> (n,) values
    recs: np.ndarray | None = None  # (n, K) the lists (ties by item index), -1 padded (full ranking only)
    hits: np.ndarray | None = None  # (n, K) bool: rank r+1 holds a held-out item (ties pessimistic, not recs' order)
    relevant: sp.csr_matrix | None = None  # (n, n_items) held-out items
    timings: dict[str, float] = field(default_factory=dict)
    hit_items: np.ndarray | None = None  # (n, K) the relevant item at each (pessimistic) rank, else -1


def user_rows(data: Dataset, users: np.ndarray) -> sp.csr_matrix:
    """(len(users), n_items) 0/1 sparse matrix of the items each user has in `data`, indices sorted."""
    rows = data.to_csr(values="ones")[users]
    rows.data[:] = 1.0
    rows.sort_indices()
    return rows


def hit_matrix(recs: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """(n, K) bool: is recs[u, r] among the relevant items of row u? One binary search over (row, item) keys."""
    n_items = relevant.shape[1]
    rows = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr))
    keys = rows * n_items + relevant.indices  # sorted: rows ascending, indices sorted per row
    if len(keys) == 0:
        return np.zeros(recs.shape, dtype=bool)
    rec_keys = np.arange(len(recs), dtype=np.int64)[:, None] * n_items + recs
    found = keys[np.searchsorted(keys, rec_keys).clip(0, len(keys) - 1)] == rec_keys
    return found & (recs >= 0)


def full_ranking(
    model: Recommender,
    target: Dataset,
    ks: Sequence[int],
    *,
    exclude: Dataset | None = None,
    with_auc: bool = True,
    unseen: np.ndarray | None = None,
) -> RankingRun:
    """Rank the whole catalog for every user of `target` and score the top-max(ks) against its items.

    exclude: interactions known when the target was recorded besides training (e.g. validation items when
    evaluating on test); training items are always excluded. With `with_auc`, each user's AUC over all
    non-excluded items is added under "auc". A `Recommender` is scored in user batches of bounded size with
    the scores serving uses (`score_all`): the list breaks ties by item index and each held-out item is
    ranked below every item of equal score (see `shoprec.evaluation.ranking`), so no metric depends on
    the largest k asked for. NaN scores rank last. unseen: (n_items,) bool, items never seen in training;
    held-out events of them stay relevant (in every denominator) and count as misses wherever the model
    ranks them. A wrapper with its own `recommend` (re-ranking) is measured on the list it returns.
    """
    start = time.perf_counter()
    users = np.unique(target.interactions.users)
    relevant = user_rows(target, users)
    creditable = relevant if unseen is None else _without_items(relevant, unseen)
    excluded = user_rows(exclude, users) if exclude is not None else None
    width = max(ks)
    timings = {"recommend": 0.0, "auc": 0.0}
    if isinstance(model, Recommender):
        recs, hit_items, auc = _score_and_rank(model, users, relevant, creditable, excluded, width, with_auc, timings)
    else:
        recs, _ = model.recommend(users, n=width, exclude_seen=True, exclude=excluded)
        hit_items = np.where(hit_matrix(recs, creditable), recs, -1)
        timings["recommend"] = time.perf_counter() - start
        auc = _catalog_auc(model, users, relevant, excluded) if with_auc else None
        timings["auc"] = time.perf_counter() - start - timings["recommend"]
    ranked = time.perf_counter()
    hits = hit_items >= 0
    per_user = ranking_metrics(hits, np.diff(relevant.indptr), ks)
    if auc is not None:
        per_user["auc"] = auc
    timings["metrics"] = time.perf_counter() - ranked
    return RankingRun(users, per_user, recs, hits, relevant, timings, hit_items)


def _without_items(rows: sp.csr_matrix, items: np.ndarray) -> sp.csr_matrix:
    """`rows` with the entries of the masked `items` columns removed (indices stay sorted)."""
    kept = rows.copy()
    kept.data = kept.data * ~items[kept.indices]
    kept.eliminate_zeros()
    return kept


def _batch_size(model: Recommender) -> int:
    """Users per scoring batch: a quarter of SCORE_BUDGET floats, since ranking holds a few copies."""
    return max(1, SCORE_BUDGET // (4 * max(model.n_items_, 1)))


def _taken(model: Recommender, users: np.ndarray, excluded: sp.csr_matrix | None, rows: slice) -> sp.csr_matrix:
    """(b, n_items) sparse items excluded for the users of `rows`: training items plus `excluded`."""
    taken = model.seen_[users[rows]]
    if excluded is not None:
        taken = taken + excluded[rows]
    return taken.tocsr()


def _score_and_rank(
    model: Recommender,
    users: np.ndarray,
    relevant: sp.csr_matrix,
    creditable: sp.csr_matrix,
    excluded: sp.csr_matrix | None,
    width: int,
    with_auc: bool,
    timings: dict[str, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Tie-stable lists, pessimistic hits (both (n, width)) and AUC of every user, one scoring pass per batch.

    AUC ranks every `relevant` item; hits are counted only for the `creditable` ones (seen in training).

    Adds seconds to timings["recommend"] (scoring, lists, ranks) and timings["auc"].
    """
    n = len(users)
    recs = np.full((n, width), -1, dtype=np.int64)
    hit_items = np.full((n, width), -1, dtype=np.int64)
    auc = np.empty(n) if with_auc else None
    size = _batch_size(model)
    for start in range(0, n, size):
        rows = slice(start, min(start + size, n))
        batch_start = time.perf_counter()
        scores = np.array(model.score_all(users[rows]).numpy(), dtype=np.float32)
        taken = _taken(model, users, excluded, rows)
        auc_start = time.perf_counter()
        if auc is not None:
            auc[rows] = catalog_auc(scores, relevant[rows], taken)
        auc_seconds = time.perf_counter() - auc_start
        nan_last(scores)
        mask_rows(scores, taken)
        recs[rows] = stable_top(scores, width)
        hit_items[rows] = pessimistic_hits(scores, creditable[rows], width)
        timings["auc"] += auc_seconds
        timings["recommend"] += time.perf_counter() - batch_start - auc_seconds
    return recs, hit_items, auc


def _catalog_auc(
    model: Recommender, users: np.ndarray, relevant: sp.csr_matrix, excluded: sp.csr_matrix | None
) -> np.ndarray:
    """(n,) AUC of each user over the catalog minus their training (and `excluded`) items."""
    size = _batch_size(model)
    out = np.empty(len(users))
    for start in range(0, len(users), size):
        rows = slice(start, min(start + size, len(users)))
        scores = np.ascontiguousarray(model.score_all(users[rows]).numpy())
        out[rows] = catalog_auc(scores, relevant[rows], _taken(model, users, excluded, rows), overwrite=True)
    return out


def sampled_ranking(
    model: Recommender, target: Dataset, negative_users: np.ndarray, negatives: np.ndarray, ks: Sequence[int]
) -> RankingRun:
    """Rank each held-out item among its user's sampled negatives; per-user means of hr/ndcg/mrr@k and auc.

    Ties are pessimistic: every negative scoring >= the held-out item ranks above it, so a constant model
    gets HR@k = 0, not 1 (AUC counts ties one half, giving 0.5). NaN scores count as -inf, so a NaN
    held-out item ranks below every negative. A listed negative equal to the held-out item (NCF's files
    have a few) is not a negative and is ignored.
    """
    start = time.perf_counter()
    inter = target.interactions
    order = np.argsort(negative_users, kind="stable")
    where = np.searchsorted(negative_users[order], inter.users).clip(0, len(order) - 1)
    rows = order[where]
    missing = negative_users[rows] != inter.users
    if missing.any():
        raise DataError(
            f"user index {int(inter.users[missing][0])} of {target.name} has no sampled negatives; "
            "expected a row of test_negatives for every evaluated user",
            column="test_negatives",
        )
    candidates = np.asarray(negatives, dtype=np.int64)[rows]
    scores = nan_last(np.array(model.score(inter.users, np.hstack([inter.items[:, None], candidates])), np.float32))
    ranked = time.perf_counter()
    positive, negative = scores[:, :1], scores[:, 1:]
    real = candidates != inter.items[:, None]
    rank = ((negative >= positive) & real).sum(axis=1)
    less = ((negative < positive) & real).sum(axis=1)
    ties = ((negative == positive) & real).sum(axis=1)
    hits = rank[:, None] == np.arange(max(ks))[None, :]
    per_row = ranking_metrics(hits, np.ones(len(rank)), ks)
    per_row = {f"{name}@{k}": per_row[f"{name}@{k}"] for name in SAMPLED_METRICS for k in ks}
    n_real = real.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_row["auc"] = (less + 0.5 * ties) / n_real
    users, inverse = np.unique(inter.users, return_inverse=True)
    per_user = {name: _user_means(inverse, np.where(n_real > 0, v, np.nan)) for name, v in per_row.items()}
    timings = {"recommend": ranked - start, "metrics": time.perf_counter() - ranked}
    return RankingRun(users, per_user, timings=timings)


def _user_means(inverse: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of the finite `values` of each user (rows grouped by `inverse`); NaN for users with none."""
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(inverse, weights=np.where(finite, values, 0.0)) / np.bincount(inverse, weights=finite)


def rating_predictions(model: Recommender, test: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(true, predicted) ratings, both (n,), of every test interaction; predictions from `model.score`."""
    inter = test.interactions
    if inter.ratings is None:
        raise DataError(f"{test.name}: the rating protocol needs explicit ratings", column="rating")
    predicted = model.score(inter.users, inter.items[:, None])[:, 0]
    return inter.ratings.astype(np.float64), predicted.astype(np.float64)


def evaluate_ratings(model: Recommender, test: Dataset) -> dict[str, float]:
    """RMSE and MAE of the model's scores as rating predictions on `test`."""
    truth, predicted = rating_predictions(model, test)
    return {"rmse": rmse(truth, predicted), "mae": mae(truth, predicted)}
