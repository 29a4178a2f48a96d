"""MF: learns block structure, predicts ratings, vectors reproduce scores, round-trips, validates config."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from tests.conftest import make_block_dataset
from tests.models.suite import ModelSuite

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.split import leave_one_out
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError
from shoprec.models.base import Recommender
from shoprec.models.mf import MF, MFConfig
from shoprec.models.registry import create_model
from shoprec.training import ranking_validator

FAST = {"embedding_size": 2, "epochs": 10, "batch_size": 64, "negatives": 4, "learning_rate": 0.05, "reg": 0.001}


class TestMF(ModelSuite):
    model_name = "mf"
    params: ClassVar[dict[str, Any]] = FAST
    seed_sensitive = True


def own_block_share(model: Recommender, data: Dataset, n_blocks: int, n: int = 5) -> float:
    """Share of the top-n slots that hold an unseen item of the user's own block, counting per user only
    as many slots as the block has unseen items (1.0 for a model that learned the blocks perfectly)."""
    users = np.arange(data.n_users)
    items, _ = model.recommend(users, n=n)
    own = users % n_blocks
    seen_own = np.bincount(data.interactions.users, minlength=data.n_users)
    unseen_own = (np.arange(data.n_items)[None, :] % n_blocks == own[:, None]).sum(1) - seen_own
    slots = np.arange(n)[None, :] < np.minimum(n, unseen_own)[:, None]
    return float((items % n_blocks == own[:, None])[slots].mean())


@pytest.mark.parametrize("loss", ["bce", "bpr", "softmax"])
def test_learns_the_blocks(loss: str) -> None:
    data = make_block_dataset(n_users=40, n_items=30, n_blocks=2, density=0.5)
    model = MF(**FAST, loss=loss).fit(data, options=TrainOptions(threads=1))
    assert own_block_share(model, data, 2) >= 0.97  # chance level is 0.5


def test_vectors_reproduce_scores_with_biases() -> None:
    data = make_block_dataset(n_users=20, n_items=16)
    model = MF(**FAST).fit(data, options=TrainOptions(threads=1))
    users, items = np.array([0, 3, 7]), np.array([[1, 2], [5, 0], [15, 4]])
    by_vectors = np.einsum("bd,bcd->bc", model.user_vectors(users), model.item_vectors(items.ravel()).reshape(3, 2, -1))
    np.testing.assert_allclose(model.score(users, items), by_vectors, rtol=1e-5, atol=1e-6)
    assert model.user_vectors().shape == (20, 2 + 2)


def rank_one_ratings(n_users: int = 30, n_items: int = 25, seed: int = 0) -> Dataset:
    """Ratings 3 + a_u b_i + noise over 70% of the pairs: MF with MSE recovers the held-out ones."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n_users), rng.normal(size=n_items)
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.7)
    ratings = 3 + a[users] * b[items] + rng.normal(scale=0.05, size=len(users))
    return Dataset(
        name="rank-one",
        interactions=Interactions.build(users, items, ratings=ratings),
        users=Vocabulary(np.arange(n_users).astype(str)),
        items=Vocabulary(np.arange(n_items).astype(str)),
    )


def test_mse_predicts_held_out_ratings() -> None:
    split = leave_one_out(rank_one_ratings(), valid=True, by="random", seed=1)
    params = {"embedding_size": 4, "epochs": 60, "batch_size": 32, "learning_rate": 0.05, "reg": 0.0005}
    model = MF(**params, loss="mse").fit(split.train, valid=split.valid, options=TrainOptions(threads=1))
    test = split.test.interactions
    predicted = model.score(test.users, test.items[:, None])[:, 0]
    rmse = float(np.sqrt(np.mean((predicted - test.ratings) ** 2)))
    spread = float(np.std(test.ratings))
    assert rmse < 0.35 * spread  # the mean rating alone scores `spread`
    assert model.history_[-1].metrics["rmse"] < 0.35 * spread


def test_validation_drives_early_stopping() -> None:
    split = leave_one_out(make_block_dataset(n_users=40, n_items=30, density=0.5), valid=True, by="random")
    model = MF(**FAST).fit(split.train, valid=split.valid, options=TrainOptions(threads=1))
    assert all({"hr@10", "ndcg@10"} <= set(r.metrics) for r in model.history_)
    best = max(model.history_, key=lambda r: r.metrics["ndcg@10"])
    assert best.metrics["hr@10"] > 0.9  # every held-out item is in the user's block: a good model finds it
    # The restored weights are the best epoch's: validating them again reproduces its ndcg.
    again = ranking_validator(model, split.valid)()
    assert again["ndcg@10"] == pytest.approx(best.metrics["ndcg@10"])


def test_same_seed_same_model_and_round_trip(tmp_path: Path) -> None:
    data = make_block_dataset(n_users=20, n_items=16)
    first = MF(**FAST, seed=3).fit(data, options=TrainOptions(threads=1))
    second = MF(**FAST, seed=3).fit(data, options=TrainOptions(threads=1))
    np.testing.assert_array_equal(first.item_vectors(), second.item_vectors())
    loaded = Recommender.load(first.save(tmp_path / "mf"))
    assert isinstance(loaded, MF)
    np.testing.assert_array_equal(loaded.recommend(np.arange(20), n=4)[0], first.recommend(np.arange(20), n=4)[0])
    np.testing.assert_array_equal(loaded.user_vectors(), first.user_vectors())


def test_registry_and_config_errors() -> None:
    assert isinstance(create_model("mf", embedding_size=4), MF)
    with pytest.raises(ConfigError, match="loss must be one of"):
        MFConfig.from_dict({"loss": "hinge"})
    with pytest.raises(ConfigError, match="negatives must be >= 1"):
        MFConfig.from_dict({"negatives": 0})
    with pytest.raises(ConfigError, match="optimizer"):
        MFConfig.from_dict({"optimizer": "rmsprop"})
    implicit = make_block_dataset(n_users=4, n_items=4)
    implicit = implicit.with_interactions(Interactions.build(implicit.interactions.users, implicit.interactions.items))
    with pytest.raises(ConfigError, match="needs explicit ratings"):
        MF(loss="mse").fit(implicit)
