"""Streaming evaluation: ranks by hand, and the live loop beating a static model on users it never saw."""

from __future__ import annotations

import numpy as np
import pytest

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.ials import IALS
from shoprec.serving.replay import _rank, _summarise, replay


def test_rank_is_pessimistic_and_skips_excluded() -> None:
    scores = np.array([0.9, 0.5, 0.5, 0.1, 2.0])
    assert _rank(scores, np.array([4]), 1) == 2  # 0.9 above, and the tie with item 2 counts against it
    assert _rank(scores, np.array([], dtype=np.int64), 0) == 1  # 2.0 above
    assert _rank(scores, np.array([0, 4]), 3) == 2


def test_summarise_by_hand() -> None:
    out = _summarise(np.array([0.0, 1.0, 10.0]), k=2)
    assert out["hr@2"] == pytest.approx(2 / 3)
    assert out["ndcg@2"] == pytest.approx((1.0 + 1.0 / np.log2(3)) / 3)
    assert out["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 11) / 3)
    assert np.isnan(_summarise(np.array([]), k=2)["hr@2"])


def _two_block_shop(seed: int = 0) -> tuple[Dataset, Dataset]:
    """Users 0..29 trained; users 30..39 appear only in the test period. Users and items come in two blocks
    and every user interacts inside their own block, so after one event a new user's block is known."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 40, 30
    user_block, item_block = np.arange(n_users) % 2, np.arange(n_items) % 2
    users, items = np.nonzero((user_block[:, None] == item_block[None, :]) & (rng.random((n_users, n_items)) < 0.6))
    ts = rng.integers(0, 1000, len(users)) + np.where(users >= 30, 1000, 0)
    vocab_u = Vocabulary(np.array([f"u{i}" for i in range(n_users)]))
    vocab_i = Vocabulary(np.array([f"i{i}" for i in range(n_items)]))
    test_rows = (users >= 30) | (ts >= 900)

    def part(mask: np.ndarray) -> Dataset:
        return Dataset("blocks", Interactions.build(users[mask], items[mask], timestamps=ts[mask]), vocab_u, vocab_i)

    return part(~test_rows), part(test_rows)


def test_live_loop_makes_new_users_personal() -> None:
    train, test = _two_block_shop()
    model = IALS(embedding_size=8, epochs=10, seed=0).fit(train)
    result = replay(model, test, k=5)
    assert result.n_events == len(test)
    assert result.n_new_users == 10
    assert result.targets_by_user_kind["new"] > 0
    new = result.by_user_kind["new"]
    # popularity cannot tell the blocks apart; the folded-in vector can after the first event
    assert new["live"]["hr@5"] > new["static"]["hr@5"] + 0.2
    assert set(result.metrics) == {"static", "static+exclusions", "live"}
    # excluding consumed items never hurts a target that is new to the user
    assert result.metrics["static+exclusions"]["mrr"] >= result.metrics["static"]["mrr"]


def test_replay_checks_inputs() -> None:
    train, test = _two_block_shop()
    model = IALS(embedding_size=4, epochs=2).fit(train)
    with pytest.raises(ConfigError, match="k must be"):
        replay(model, test, k=0)
    more_users = Vocabulary(np.array([f"u{i}" for i in range(41)]))
    smaller = Dataset("other", test.interactions, more_users, test.items)
    with pytest.raises(DataError, match="expected the model's"):
        replay(model, smaller)
