"""Cold start: hand-computed segment shrinkage, context categories, live counts, growth and save/load."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.features import CategoricalColumn, FeatureTable, NumericColumn
from shoprec.data.synthetic import generate_shop
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ArtifactError, ConfigError, DataError
from shoprec.serving.coldstart import ColdStart


def tiny_shop() -> Dataset:
    """4 users (u0, u1 'budget'; u2 'premium'; u3 no segment), 4 items in categories a, a, b, unknown.

    Events: u0 -> 0, 0, 1; u1 -> 1; u2 -> 2, 3; u3 -> 3.  Global counts [2, 2, 1, 2] of 7;
    budget counts [2, 2, 0, 0] of 4; premium counts [0, 0, 1, 1] of 2.
    """
    users, items = np.array([0, 0, 0, 1, 2, 2, 3]), np.array([0, 0, 1, 1, 2, 3, 3])
    return Dataset(
        "tiny",
        Interactions.build(users, items),
        Vocabulary(np.array(["u0", "u1", "u2", "u3"])),
        Vocabulary(np.array(["i0", "i1", "i2", "i3"])),
        item_features=FeatureTable(4, {"category": CategoricalColumn(np.array([1, 1, 2, 0]), ("a", "b"))}),
        user_features=FeatureTable(4, {"segment": CategoricalColumn(np.array([1, 1, 2, 0]), ("budget", "premium"))}),
    )


def test_global_popularity_when_the_segment_is_unknown() -> None:
    cold = ColdStart.from_dataset(tiny_shop(), prior=2.0)
    expected = np.array([2, 2, 1, 2]) / 7
    for profile in (None, {}, {"segment": "vip"}, {"age": "18-24"}):
        np.testing.assert_allclose(cold.scores(profile), expected, rtol=1e-6)


def test_segment_shares_are_shrunk_towards_global_popularity() -> None:
    cold = ColdStart.from_dataset(tiny_shop(), prior=2.0)
    p_global = np.array([2, 2, 1, 2]) / 7
    budget = (np.array([2, 2, 0, 0]) + 2.0 * p_global) / (4 + 2.0)
    premium = (np.array([0, 0, 1, 1]) + 2.0 * p_global) / (2 + 2.0)
    np.testing.assert_allclose(cold.scores({"segment": "budget"}), budget, rtol=1e-6)
    np.testing.assert_allclose(cold.scores({"segment": "premium"}), premium, rtol=1e-6)
    raw = ColdStart.from_dataset(tiny_shop(), prior=0.0)  # no shrinkage: the segment's own shares
    np.testing.assert_allclose(raw.scores({"segment": "premium"}), [0, 0, 0.5, 0.5], rtol=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    own=st.lists(st.integers(0, 50), min_size=5, max_size=5),
    others=st.lists(st.integers(0, 50), min_size=5, max_size=5),
    prior=st.floats(0.0, 1e4),
)
def test_shrunk_shares_blend_segment_and_global(own: list[int], others: list[int], prior: float) -> None:
    """p_seg = λ · own share + (1 − λ) · global share with λ = N_seg / (N_seg + prior): a distribution."""
    own_counts, total = np.array(own, float), np.array(own, float) + np.array(others, float)
    assume(own_counts.sum() > 0)
    cold = ColdStart(np.stack([total, own_counts], axis=1), ["s"], np.full(5, -1), [], prior=prior)
    lam = own_counts.sum() / (own_counts.sum() + prior)
    expected = lam * own_counts / own_counts.sum() + (1 - lam) * total / total.sum()
    scores = cold.scores({"segment": "s"})
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-7)
    assert scores.sum() == pytest.approx(1.0, rel=1e-5)


def test_context_category_ranks_its_items_first() -> None:
    cold = ColdStart.from_dataset(tiny_shop(), prior=2.0)
    scores = cold.scores({"segment": "premium"}, context_category="a")
    base = cold.scores({"segment": "premium"})
    np.testing.assert_allclose(scores, base + np.array([1, 1, 0, 0]), rtol=1e-6)
    assert set(np.argsort(-scores)[:2]) == {0, 1}
    with pytest.raises(ConfigError, match="context_category"):
        cold.scores(context_category="z")


def test_categories_from_a_catalog_like_object() -> None:
    catalog = SimpleNamespace(category=np.array([-1, 0, 0, 0], dtype=np.int32), category_names=["shoes"])
    cold = ColdStart.from_dataset(tiny_shop(), catalog, prior=2.0)
    assert cold.category_names == ["shoes"]
    np.testing.assert_array_equal(cold.scores(context_category="shoes") >= 1, [False, True, True, True])


def test_observe_updates_global_and_segment_counts() -> None:
    cold = ColdStart.from_dataset(tiny_shop(), prior=0.0)
    cold.observe(np.array([2, 2, 2]), segment="budget")
    np.testing.assert_allclose(cold.scores(), np.array([2, 2, 4, 2]) / 10, rtol=1e-6)
    np.testing.assert_allclose(cold.scores({"segment": "budget"}), np.array([2, 2, 3, 0]) / 7, rtol=1e-6)
    cold.observe(np.array([0]), segment="vip")  # a segment first seen live
    np.testing.assert_allclose(cold.scores({"segment": "vip"}), [1, 0, 0, 0])
    cold.observe(np.array([3]))
    np.testing.assert_allclose(cold.scores()[3], 3 / 12, rtol=1e-6)
    with pytest.raises(DataError, match="item index"):
        cold.observe(np.array([4]))


def test_grow_adds_items_without_counts() -> None:
    cold = ColdStart.from_dataset(tiny_shop(), prior=2.0)
    before = cold.scores({"segment": "budget"})
    cold.grow(6, categories=np.array([1, -1]))
    assert cold.n_items == 6
    scores = cold.scores({"segment": "budget"}, context_category="b")
    np.testing.assert_allclose(scores[:4], before + np.array([0, 0, 1, 0]), rtol=1e-6)
    np.testing.assert_allclose(scores[4:], [1.0, 0.0])
    cold.observe(np.array([5, 5]))
    assert cold.scores()[5] == pytest.approx(2 / 9)
    for _ in range(40):  # one item at a time, as a live catalog grows
        cold.grow(cold.n_items + 1)
    assert cold.n_items == 46 and cold.scores().shape == (46,)
    with pytest.raises(ConfigError, match="n_items"):
        cold.grow(3)


def test_save_load_round_trip_and_tamper_detection(tmp_path: Path) -> None:
    cold = ColdStart.from_dataset(tiny_shop(), prior=2.0)
    cold.observe(np.array([1]), segment="vip")
    path = cold.save(tmp_path / "coldstart")
    loaded = ColdStart.load(path)
    for profile in (None, {"segment": "budget"}, {"segment": "vip"}):
        np.testing.assert_array_equal(loaded.scores(profile, "a"), cold.scores(profile, "a"))
    assert (loaded.segments, loaded.prior) == (["budget", "premium", "vip"], 2.0)
    (path / "state.json").write_text((path / "state.json").read_text().replace("vip", "VIP"))
    with pytest.raises(ArtifactError, match="checksum"):
        ColdStart.load(path)


def test_synthetic_shop_segments_against_a_direct_count() -> None:
    """Without shrinkage a segment's scores are its users' item shares; a huge prior gives global popularity."""
    shop = generate_shop(n_users=300, n_items=80, n_events=3_000, seed=3)
    inter, segment = shop.interactions, shop.user_features["segment"]
    assert isinstance(segment, CategoricalColumn)
    raw, shrunk = ColdStart.from_dataset(shop, prior=0.0), ColdStart.from_dataset(shop, prior=1e12)
    assert raw.segments == ["budget", "mainstream", "premium"]
    for code, name in enumerate(raw.segments, start=1):
        mine = inter.items[segment.codes[inter.users] == code]
        expected = np.bincount(mine, minlength=80) / len(mine)
        np.testing.assert_allclose(raw.scores({"segment": name}), expected, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(shrunk.scores({"segment": name}), raw.scores(), rtol=1e-4, atol=1e-7)


def test_non_categorical_segment_field_is_refused() -> None:
    data = tiny_shop()
    bad = data.with_interactions(
        data.interactions, user_features=FeatureTable(4, {"segment": NumericColumn(np.zeros(4, np.float32))})
    )
    with pytest.raises(DataError, match="segment"):
        ColdStart.from_dataset(bad)


def test_ranked_is_the_top_of_the_scores_best_first_ties_by_index(monkeypatch) -> None:
    cold = ColdStart.from_dataset(tiny_shop(), prior=2.0)
    items, scores = cold.ranked()  # global counts [2, 2, 1, 2]: three tied, lower index first
    assert items.tolist() == [0, 1, 3, 2]
    np.testing.assert_allclose(scores, cold.scores()[[0, 1, 3, 2]])
    assert cold.ranked({"segment": "premium"})[0].tolist()[:2] == [3, 2]  # own [0, 0, 1, 1] + global
    assert cold.ranked(context_category="b")[0].tolist()[0] == 2  # the context's item first
    monkeypatch.setattr("shoprec.serving.coldstart.RANKED", 2)
    assert ColdStart.from_dataset(tiny_shop(), prior=2.0).ranked()[0].tolist() == [0, 1]


def test_ranked_lists_are_reused_for_refresh_seconds_and_reset_by_new_items() -> None:
    cached = ColdStart.from_dataset(tiny_shop(), prior=2.0)  # refresh 1 s
    fresh = ColdStart.from_dataset(tiny_shop(), prior=2.0)
    fresh.refresh_seconds = 0.0
    before = cached.ranked()[0].tolist()
    for cold in (cached, fresh):
        cold.observe(np.array([2, 2, 2]))  # item 2 becomes the most popular
    assert cached.ranked()[0].tolist() == before  # at most refresh_seconds old
    assert fresh.ranked()[0].tolist()[0] == 2
    cached.grow(5, np.array([0]))
    cached.observe(np.array([4] * 9))
    assert cached.ranked()[0].tolist()[:2] == [4, 2]  # growing resets the cache: the new counts show
