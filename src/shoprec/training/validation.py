"""Validation callbacks for early stopping: rank the catalog for validation users through `recommend`.

The metric is computed on a validation Dataset (held out from training, never the test set) by the
same `recommend` path that serving and evaluation use, excluding each user's training items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from shoprec.data.dataset import Dataset
from shoprec.evaluation.batch import ranking_metrics
from shoprec.evaluation.labelled import rmse
from shoprec.exceptions import ConfigError
from shoprec.models.base import Recommender


def ranking_validator(
    model: Recommender, valid: Dataset, *, k: int = 10, max_users: int | None = None, seed: int = 0
) -> Callable[[], dict[str, float]]:
    """A callback returning mean `hr@k` and `ndcg@k` of `model` over the users of `valid`.

    Meant to be built inside `_fit` (the model's id spaces and seen items are already set) and called by
    the trainer after an epoch; `max_users` caps the work with a seeded sample of validation users.
    """
    if k <= 0:
        raise ConfigError(f"validation k must be > 0, got {k}")
    relevant = valid.to_csr(values="ones")
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    relevant = relevant[users]
    n_relevant = np.diff(relevant.indptr)

    def validate() -> dict[str, float]:
        if len(users) == 0:
            return {f"hr@{k}": float("nan"), f"ndcg@{k}": float("nan")}
        with _provisionally_fitted(model):
            items, _ = model.recommend(users, n=k, exclude_seen=True)
        rows = np.repeat(np.arange(len(users)), k)
        hits = np.asarray(relevant[rows, np.maximum(items.ravel(), 0)]).reshape(len(users), k) > 0
        hits &= items >= 0
        metrics = ranking_metrics(hits, n_relevant, ks=[k])
        return {name: float(np.nanmean(metrics[name])) for name in (f"hr@{k}", f"ndcg@{k}")}

    return validate


def rating_validator(model: Recommender, valid: Dataset) -> Callable[[], dict[str, float]]:
    """A callback returning the RMSE of `model.score` on the explicit ratings of `valid` (lower is better)."""
    inter = valid.interactions
    if inter.ratings is None:
        raise ConfigError(f"{valid.name}: rating validation needs explicit ratings")

    def validate() -> dict[str, float]:
        with _provisionally_fitted(model):
            predicted = model.score(inter.users, inter.items[:, None])[:, 0]
        return {"rmse": rmse(inter.ratings, predicted)}

    return validate


@contextmanager
def _provisionally_fitted(model: Recommender) -> Iterator[None]:
    """Lets `recommend` run on a model mid-`fit` (its state is set, but `fit` has not returned yet)."""
    previous, model.fitted_ = model.fitted_, True
    try:
        yield
    finally:
        model.fitted_ = previous
