"""The wrapper that lets `evaluate` measure re-ranked lists: identity when it should be, effects where expected."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make_block_dataset

from shoprec.data.dataset import Dataset, Split
from shoprec.data.split import split_dataset
from shoprec.evaluation import evaluate
from shoprec.exceptions import ConfigError
from shoprec.models import IALS
from shoprec.rerank import MMR, BusinessRules, LongTailBoost, RerankContext, RerankedRecommender, Reranker


@pytest.fixture(scope="module")
def split() -> Split:
    return split_dataset(make_block_dataset(n_users=40, n_items=30), "loo")


@pytest.fixture(scope="module")
def ials(split: Split) -> IALS:
    return IALS(embedding_size=8, epochs=4, seed=0).fit(split.train)


def context(model: IALS, train: Dataset) -> RerankContext:
    return RerankContext(model.item_vectors(), train.item_popularity())


def test_identity_steps_measure_exactly_the_base_model(ials: IALS, split: Split) -> None:
    wrapped = RerankedRecommender(ials, Reranker([MMR(1.0), LongTailBoost(0.0)]), context(ials, split.train), 20)
    vectors = ials.item_vectors()  # the wrapper is not a VectorRecommender: name the diversity vectors
    base = evaluate(ials, split, ks=(5, 10), ci=False, segments=False, item_vectors=vectors)
    reranked = evaluate(wrapped, split, ks=(5, 10), ci=False, segments=False, item_vectors=vectors)
    assert "diversity@10" in base.metrics
    assert reranked.metrics == pytest.approx(base.metrics, nan_ok=True)
    users = np.arange(5)
    np.testing.assert_array_equal(wrapped.recommend(users, 7)[0], ials.recommend(users, 7)[0])


def test_rules_apply_and_short_lists_stay_padded(ials: IALS, split: Split) -> None:
    banned = np.arange(0, 30, 3)
    wrapped = RerankedRecommender(ials, Reranker([BusinessRules(banned)]), context(ials, split.train), 10)
    items, scores = wrapped.recommend(np.arange(40), 25)  # fetches 25 > candidates; 30 - 10 banned - seen < 25
    assert items.shape == (40, 25)
    seen = split.train.to_csr()
    for user in range(40):  # per-user bookkeeping only in the test
        kept = items[user][items[user] >= 0]
        assert set(kept) == set(range(30)) - set(banned) - set(seen[user].indices)
        assert (items[user][len(kept) :] == -1).all() and np.isneginf(scores[user][len(kept) :]).all()


def test_long_tail_boost_lowers_the_popularity_of_what_is_measured(ials: IALS, split: Split) -> None:
    base = evaluate(ials, split, ks=(5,), ci=False, segments=False)
    wrapped = RerankedRecommender(ials, Reranker([LongTailBoost(1.0)]), context(ials, split.train))
    boosted = evaluate(wrapped, split, ks=(5,), ci=False, segments=False)
    assert boosted.metrics["avg_pop@5"] < base.metrics["avg_pop@5"]
    assert boosted.metrics["auc"] == base.metrics["auc"]  # scores outside recommend are the base model's


def test_delegates_state_but_is_not_an_artifact(ials: IALS, split: Split, tmp_path) -> None:
    wrapped = RerankedRecommender(ials, Reranker([]), context(ials, split.train))
    assert wrapped.n_items_ == 30 and wrapped.item_vectors().shape == (30, 8)
    np.testing.assert_array_equal(wrapped.score(np.array([0]), np.array([[1, 2]])), ials.score([0], [[1, 2]]))
    with pytest.raises(ConfigError, match="not an artifact"):
        wrapped.save(tmp_path / "model")
    with pytest.raises(ConfigError, match="candidates"):
        RerankedRecommender(ials, Reranker([]), context(ials, split.train), candidates=0)
