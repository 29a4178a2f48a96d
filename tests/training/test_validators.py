"""Validation callbacks against per-user reference metrics computed independently."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make_block_dataset

from shoprec.data.split import leave_one_out
from shoprec.evaluation.metrics import hit_rate, ndcg
from shoprec.exceptions import ConfigError
from shoprec.models.popularity import Popularity
from shoprec.training.validation import ranking_validator, rating_validator


def test_ranking_validator_matches_per_user_reference() -> None:
    split = leave_one_out(make_block_dataset(n_users=30, n_items=20, density=0.4), valid=True, by="random", seed=2)
    model = Popularity().fit(split.train)
    got = ranking_validator(model, split.valid, k=5)()
    valid = split.valid.interactions
    hr, nd = [], []
    for user in np.unique(valid.users):
        ranked, _ = model.recommend([user], n=5)
        relevant = valid.items[valid.users == user]
        hr.append(hit_rate(ranked[0], relevant, 5))
        nd.append(ndcg(ranked[0], relevant, 5))
    assert got["hr@5"] == pytest.approx(np.mean(hr))
    assert got["ndcg@5"] == pytest.approx(np.mean(nd))
    assert 0 < got["hr@5"] < 1  # a non-trivial case


def test_ranking_validator_runs_mid_fit_and_caps_users() -> None:
    split = leave_one_out(make_block_dataset(n_users=30, n_items=20), valid=True, by="random")
    model = Popularity().fit(split.train)
    model.fitted_ = False  # as inside _fit: recommend would refuse, the validator lets it run
    capped = ranking_validator(model, split.valid, k=3, max_users=7)()
    assert set(capped) == {"hr@3", "ndcg@3"} and not model.fitted_
    with pytest.raises(ConfigError, match="k must be > 0"):
        ranking_validator(model, split.valid, k=0)


def test_rating_validator_is_rmse_of_scores() -> None:
    split = leave_one_out(make_block_dataset(n_users=10, n_items=8), valid=True, by="random")
    model = Popularity().fit(split.train)
    valid = split.valid.interactions
    expected = np.sqrt(np.mean((model.scores_[valid.items] - valid.ratings) ** 2))
    assert rating_validator(model, split.valid)()["rmse"] == pytest.approx(expected, rel=1e-6)
