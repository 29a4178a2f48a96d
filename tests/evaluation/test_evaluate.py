"""The `evaluate` entry point: metrics, intervals, segments, protocol choice and errors."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from shoprec.data.dataset import Split
from shoprec.data.features import FeatureTable, categorical
from shoprec.evaluation import evaluate
from shoprec.evaluation.confidence import Z95
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.popularity import Popularity


@pytest.fixture
def split(hand_split):
    return hand_split


@pytest.fixture
def model(hand_model):
    return hand_model


#: The hand split trains item 0 only, so every held-out item is new to the model: the tests of ranking
#: mechanics on hand-set scores rank them (unseen_items="rank"); by default they would all be misses.
RANKED = {"unseen_items": "rank"}


def test_full_ranking_metrics_intervals_and_segments(split, model):
    result = evaluate(model, split, ks=(3, 1), **RANKED)
    assert evaluate(model, split, ks=(3, 1)).metrics["hr@3"] == 0.0  # the default: unseen items are misses
    m = result.metrics
    assert result.protocol == "full" and result.n_users == 3
    assert m["hr@1"] == pytest.approx(2 / 3) and m["recall@3"] == pytest.approx(2 / 3) and m["auc"] == 0.5
    # recommended lists [2,3,4], [5,3,2], [1,2,3]: 5 of 6 items at k=3, items {2,5,1} at k=1
    assert m["coverage@3"] == pytest.approx(5 / 6) and m["coverage@1"] == pytest.approx(3 / 6)
    assert m["tail_share@3"] == 1.0  # the head is item 0 alone, never recommended (seen by everyone)
    assert "diversity@3" not in m  # no item features and not a vector model
    half = Z95 * np.std([1, 1, 0], ddof=1) / math.sqrt(3)
    assert result.ci["hr@1"] == pytest.approx((2 / 3 - half, 2 / 3 + half))
    low, high = result.ci["coverage@3"]
    assert low <= m["coverage@3"] <= high
    assert result.segments["users:history=1-5"]["n_users"] == 3.0
    assert result.segments["users:history=1-5"]["recall@3"] == pytest.approx(2 / 3)
    assert result.segments["items:tail"]["recall@3"] == pytest.approx(2 / 3)
    assert result.segments["items:head"]["n_users"] == 0.0
    assert set(result.timings) >= {"recommend", "metrics", "auc", "beyond", "total"}


def test_to_dict_is_strict_json(split, model):
    result = evaluate(model, split, ks=(1,), **RANKED)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["metrics"]["hr@1"] == pytest.approx(2 / 3) and payload["protocol"] == "full"
    assert payload["segments"]["items:head"]["recall@1"] is None  # NaN -> null
    assert payload["ci"]["hr@1"] == list(result.ci["hr@1"])


def test_optional_parts_can_be_switched_off(split, model):
    result = evaluate(model, split, ks=(2,), beyond_accuracy=False, segments=False, ci=False)
    assert result.ci == {} and result.segments == {}
    assert set(result.metrics) == {f"{m}@2" for m in ("hr", "precision", "recall", "f1", "ndcg", "mrr", "map")} | {
        "auc"
    }


def test_diversity_from_given_vectors_or_a_feature_column(split, model):
    vectors = np.eye(6)
    assert evaluate(model, split, ks=(2,), item_vectors=vectors).metrics["diversity@2"] == 1.0
    brand = categorical(np.array(["a", "a", "a", "a", "b", "b"], dtype=object))
    train = dataclasses.replace(split.train, item_features=FeatureTable(6, {"brand": brand}))
    featured = dataclasses.replace(split, train=train)
    # lists at k=2: [2,3] same brand, [5,3] different, [1,2] same -> distances 0, 1, 0
    assert evaluate(model, featured, ks=(2,)).metrics["diversity@2"] == pytest.approx(1 / 3)
    with pytest.raises(ConfigError, match=r"item_vectors must have shape \(6, d\)"):
        evaluate(model, split, item_vectors=np.eye(5))


def test_on_valid_ranks_against_training_only(split, model):
    result = evaluate(model, split, ks=(1,), on="valid", **RANKED)
    assert result.n_users == 1 and result.metrics["hr@1"] == 1.0


def test_protocol_comes_from_the_split(split, model):
    sampled = dataclasses.replace(
        split, protocol="ncf", test_negative_users=np.array([0, 1, 2]), test_negatives=np.array([[1]] * 3)
    )
    result = evaluate(model, sampled, ks=(1,))
    # one negative, item 1: it beats both of user 0's items and user 2's item; user 1's item 5 beats it, item 4 not
    assert result.protocol == "ncf" and result.metrics["hr@1"] == pytest.approx((0.0 + 0.5 + 0.0) / 3)
    assert "coverage@1" not in result.metrics and "users:history=1-5" in result.segments


def test_sampled_protocol_draws_negatives_when_the_split_has_none(block_dataset, fixed_model):
    rng = np.random.default_rng(0)
    part = rng.random(len(block_dataset)) < 0.2
    inter = block_dataset.interactions
    split = Split(
        train=block_dataset.with_interactions(inter.take(~part)), test=block_dataset.with_interactions(inter.take(part))
    )
    oracle = fixed_model(split.test.to_csr(values="ones").toarray(), split.train)
    result = evaluate(oracle, split, ks=(1, 5), protocol="sampled", n_negatives=10, seed=3)
    assert result.protocol == "sampled" and result.metrics["hr@1"] == 1.0 and result.metrics["auc"] == 1.0


def test_sampled_on_valid_draws_negatives_for_validation_users(split, model):
    result = evaluate(model, split, ks=(1,), on="valid", protocol="sampled", n_negatives=2, seed=0)
    # user 0's validation item 1 scores 4.0; its two drawn negatives come from items 2..5 (scores <= 3)
    assert result.n_users == 1 and result.metrics["hr@1"] == 1.0 and result.metrics["auc"] == 1.0


def test_given_negatives_need_their_users(split, model):
    broken = dataclasses.replace(split, protocol="sampled", test_negatives=np.array([[1]] * 3))
    with pytest.raises(DataError, match="no test_negative_users"):
        evaluate(model, broken)


def test_popularity_on_blocks_is_sane(block_dataset):
    rng = np.random.default_rng(1)
    part = rng.integers(0, 10, len(block_dataset))
    inter = block_dataset.interactions
    split = Split(
        train=block_dataset.with_interactions(inter.take(part >= 2)),
        valid=block_dataset.with_interactions(inter.take(part == 1)),
        test=block_dataset.with_interactions(inter.take(part == 0)),
    )
    model = Popularity().fit(split.train)
    learned = model.scores_.copy()
    result = evaluate(model, split, ks=(5, 10))
    np.testing.assert_array_equal(model.scores_, learned)  # masking seen items must not write into the model
    for name, value in result.metrics.items():
        if name.split("@")[0] not in ("novelty", "avg_pop"):
            assert 0.0 <= value <= 1.0, name
        low, high = result.ci[name]
        assert low <= value + 1e-12 and value <= high + 1e-12, name
    assert result.metrics["hr@10"] >= result.metrics["hr@5"]
    users = np.unique(split.test.interactions.users)
    scores = model.score_all(users).numpy().astype(np.float64)
    taken = (split.train.to_csr(values="ones")[users] + split.valid.to_csr(values="ones")[users]).toarray() > 0
    scores[taken] = -np.inf
    top5 = np.argsort(-scores, axis=1, kind="stable")[:, :5]  # ties by item index, as the evaluator's lists
    top5 = top5[np.isfinite(np.take_along_axis(scores, top5, axis=1))]
    assert result.metrics["coverage@5"] == pytest.approx(len(np.unique(top5)) / 30)


def test_ratings_protocol(split, model, make_dataset):
    split = dataclasses.replace(split, test=make_dataset([(0, 1), (2, 3)], 3, 6, ratings=[3.0, 4.0]))
    result = evaluate(model, split, protocol="ratings")
    assert result.metrics == pytest.approx({"rmse": 1.0, "mae": 1.0}) and result.protocol == "ratings"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"ks": (0, 5)}, ConfigError, "ks must be positive integers"),
        ({"on": "train"}, ConfigError, "on must be 'test' or 'valid'"),
        ({"protocol": "loo"}, ConfigError, "protocol must be one of"),
    ],
)
def test_bad_arguments_are_named(split, model, kwargs, error, message):
    with pytest.raises(error, match=message):
        evaluate(model, split, **kwargs)


def test_missing_validation_part_is_a_data_error(split, model):
    with pytest.raises(DataError, match="no valid interactions"):
        evaluate(model, dataclasses.replace(split, valid=None), on="valid")
