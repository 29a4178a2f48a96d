"""Two-tower: the shared suite, history windows, every loss, fold-in of new events, new items from attributes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from tests.conftest import make_block_dataset
from tests.models.suite import ModelSuite
from tests.models.test_mf import own_block_share, rank_one_ratings

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.features import CategoricalColumn, FeatureTable
from shoprec.data.split import leave_one_out
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.base import Recommender
from shoprec.models.fields import TEXT_VECTORS
from shoprec.models.two_tower import TwoTower, _sequences, windows

FAST = {
    "embedding_size": 16,
    "field_size": 8,
    "layers": (32,),
    "epochs": 15,
    "batch_size": 32,
    "learning_rate": 0.01,
    "temperature": 0.1,
    "history_len": 5,
    "negatives": 4,
}
OPTS = TrainOptions(threads=1)


class TestTwoTower(ModelSuite):
    model_name = "two_tower"
    params: ClassVar[dict] = FAST
    seed_sensitive = True


def test_windows_hold_the_last_items_before_the_end() -> None:
    sequence = torch.tensor([1, 2, 3, 4, 5, 6, 7])  # user 0: events 0..3, user 1: events 4..6
    starts, ends = torch.tensor([0, 0, 4, 4]), torch.tensor([0, 3, 5, 7])
    np.testing.assert_array_equal(windows(sequence, starts, ends, 2), [[0, 0], [2, 3], [0, 5], [6, 7]])
    assert windows(sequence, starts, ends, 0).shape == (4, 0)


def test_training_windows_see_only_earlier_events() -> None:
    inter = Interactions.build([1, 0, 1, 0, 1], [4, 3, 2, 1, 0], timestamps=[30, 20, 10, 10, 20])
    data = Dataset("t", inter, Vocabulary(np.array(["a", "b"])), Vocabulary(np.arange(5).astype(str)))
    sequence, starts, ends, positions = _sequences(data, seed=0)
    np.testing.assert_array_equal(sequence, [2, 4, 3, 1, 5])  # by time, item + 1: user 0 (1, 3), user 1 (2, 0, 4)
    np.testing.assert_array_equal(starts, [0, 2])
    np.testing.assert_array_equal(ends, [2, 5])
    np.testing.assert_array_equal(positions, [4, 1, 2, 0, 3])
    event_windows = windows(*(torch.from_numpy(a) for a in (sequence, starts[inter.users], positions)), 3)
    np.testing.assert_array_equal(event_windows, [[0, 3, 1], [0, 0, 2], [0, 0, 0], [0, 0, 0], [0, 0, 3]])


@pytest.mark.parametrize(("loss", "similarity"), [("in_batch", "cosine"), ("softmax", "cosine"), ("bce", "dot")])
def test_every_implicit_loss_learns_the_blocks(loss: str, similarity: str) -> None:
    data = make_block_dataset(n_users=40, n_items=30, density=0.5)
    model = TwoTower(**FAST, loss=loss, similarity=similarity).fit(data, options=OPTS)
    assert own_block_share(model, data, 2) >= 0.9


def test_mse_vectors_add_the_mean_rating_and_predict_ratings() -> None:
    split = leave_one_out(rank_one_ratings(), valid=True, by="random", seed=1)
    params = {**FAST, "loss": "mse", "similarity": "dot", "epochs": 40, "history_len": 0, "id_dropout": 0.0}
    model = TwoTower(**params).fit(split.train, valid=split.valid, options=OPTS)
    test = split.test.interactions
    predicted = model.score(test.users, test.items[:, None])[:, 0]
    by_vectors = np.einsum("bd,bd->b", model.user_vectors(test.users), model.item_vectors(test.items))
    np.testing.assert_allclose(predicted, by_vectors, rtol=1e-5)
    assert model.item_vectors()[:, -1] == pytest.approx(split.train.interactions.ratings.mean())
    rmse = float(np.sqrt(np.mean((predicted - test.ratings) ** 2)))
    assert rmse < 0.5 * float(np.std(test.ratings))  # the mean rating alone scores the std
    assert "rmse" in model.history_[-1].metrics


def test_history_fold_in_serves_new_events_without_retraining(tmp_path: Path) -> None:
    data = make_block_dataset(n_users=40, n_items=30, density=0.5)
    model = TwoTower(**{**FAST, "id_dropout": 0.3}).fit(data, options=OPTS)  # so history carries the signal
    user = 3
    mine = data.interactions.take(data.interactions.users == user)
    in_time_order = mine.items[np.argsort(mine.timestamps, kind="stable")]
    np.testing.assert_allclose(model.encode_history(in_time_order, user=user), model.user_vectors([user])[0], rtol=1e-5)
    newcomer = model.encode_history(np.array([0, 2, 4]))  # a new user who viewed three block-0 items
    top = np.argsort(-(model.item_vectors() @ newcomer))[:10]
    assert (top % 2 == 0).mean() >= 0.9
    served, scores = model.recommend_from_history(np.array([0, 2, 4]), n=5)
    assert not np.isin(served, [0, 2, 4]).any() and (served % 2 == 0).all()
    np.testing.assert_allclose(scores, (model.item_vectors() @ newcomer)[served], rtol=1e-5)
    assert not np.allclose(model.encode_history(np.array([0, 2, 4, 1])), newcomer)  # one more event moves it
    loaded = Recommender.load(model.save(tmp_path / "tt"))
    np.testing.assert_allclose(loaded.encode_history(np.array([0, 2, 4])), newcomer, rtol=1e-6)
    with pytest.raises(DataError, match="out of range"):
        model.encode_history(np.array([30]))


def with_item_attributes(data: Dataset, kind: str) -> Dataset:
    """The block data set whose items also carry their block as a category or as a noisy 'text' vector."""
    blocks = np.arange(data.n_items) % 2
    if kind == "category":
        features = FeatureTable(data.n_items, {"category": CategoricalColumn(blocks + 1, ("c0", "c1"))})
        return Dataset(data.name, data.interactions, data.users, data.items, item_features=features)
    text = np.eye(2)[blocks] + np.random.default_rng(0).normal(scale=0.1, size=(data.n_items, 2))
    return Dataset(data.name, data.interactions, data.users, data.items, metadata={TEXT_VECTORS: text})


@pytest.mark.parametrize("kind", ["category", "text"])
def test_new_items_embed_near_their_kind_from_attributes_alone(kind: str) -> None:
    data = with_item_attributes(make_block_dataset(n_users=40, n_items=30, density=0.5), kind)
    model = TwoTower(**{**FAST, "id_dropout": 0.5}).fit(data, options=OPTS)
    if kind == "category":
        new = model.embed_items(FeatureTable(2, {"category": CategoricalColumn(np.array([2, 1]), ("c0", "c1"))}))
    else:
        new = model.embed_items(FeatureTable(2, {}), text_vectors=np.array([[0.0, 1.0], [1.0, 0.0]]))
    known = model.item_vectors()
    similarity = new @ known.T / np.linalg.norm(new, axis=1)[:, None] / np.linalg.norm(known, axis=1)[None, :]
    same = [similarity[0, 1::2].mean(), similarity[1, 0::2].mean()]  # new item 0 is of block 1, item 1 of block 0
    other = [similarity[0, 0::2].mean(), similarity[1, 1::2].mean()]
    assert all(s > o + 0.3 for s, o in zip(same, other, strict=True))


def test_config_errors_name_the_parameter() -> None:
    for bad, name in [({"loss": "hinge"}, "loss"), ({"similarity": "l2"}, "similarity"), ({"temperature": 0}, "temp")]:
        with pytest.raises(ConfigError, match=name):
            TwoTower(**bad)
    with pytest.raises(ConfigError, match="needs explicit ratings"):
        TwoTower(loss="mse").fit(make_block_dataset().with_interactions(Interactions.build([0], [0])))
