"""Beyond-accuracy metrics: hand-computed values and brute-force references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shoprec.data.features import FeatureTable, NumericColumn, categorical, multi_valued
from shoprec.evaluation.beyond import (
    coverage,
    exposure_counts,
    feature_vectors,
    gini,
    head_items,
    intra_list_diversity,
    list_level,
    list_means,
    per_user_beyond,
    self_information,
)
from shoprec.exceptions import ConfigError


def test_head_is_the_most_popular_fifth_of_the_catalog():
    popularity = np.array([5, 0, 3, 3, 1, 10, 0, 2, 0, 0])
    assert np.flatnonzero(head_items(popularity)).tolist() == [0, 5]
    assert np.flatnonzero(head_items(np.array([3, 3, 3, 0, 0]))).tolist() == [0]  # ties by index
    assert not head_items(np.zeros(5)).any()  # never-seen items are tail


def test_self_information_is_laplace_smoothed():
    expected = -np.log2(np.array([4, 2, 1]) / 7)
    np.testing.assert_allclose(self_information(np.array([3, 1, 0])), expected)


def test_list_means_ignore_padding():
    recs = np.array([[0, 1, -1], [-1, -1, -1]])
    out = list_means(recs, np.array([1.0, 3.0, 5.0]), [1, 3])
    assert out[1][0] == 1.0 and out[3][0] == 2.0
    assert math.isnan(out[1][1]) and math.isnan(out[3][1])


def test_diversity_hand_computed():
    vectors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    out = intra_list_diversity(np.array([[0, 1, 2, -1], [0, 3, -1, -1]]), vectors, [1, 2, 3, 4])
    assert math.isnan(out[1][0])  # a single item has no pair
    assert out[2][0] == pytest.approx(0.0)  # parallel vectors
    assert out[3][0] == pytest.approx(2 / 3) and out[4][0] == pytest.approx(2 / 3)
    assert out[2][1] == pytest.approx(1.0)  # a zero vector is at distance 1


@given(st.integers(0, 2**31 - 1), st.integers(1, 8))
@settings(max_examples=40, deadline=None)
def test_diversity_matches_pairwise_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((12, 4))
    recs = np.stack([rng.permutation(12)[:k] for _ in range(5)])
    recs[0, k // 2 :] = -1
    got = intra_list_diversity(recs, vectors, [k])[k]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for u, row in enumerate(recs):
        items = row[row >= 0]
        dist = [1 - unit[i] @ unit[j] for i in items for j in items if i != j]
        np.testing.assert_allclose(got[u], np.mean(dist) if dist else np.nan, atol=1e-6)


def test_exposure_counts_plain_and_weighted():
    recs = np.array([[0, 1], [0, -1]])
    plain = exposure_counts(recs, 3, [1, 2])
    assert plain[1].tolist() == [2, 0, 0] and plain[2].tolist() == [2, 1, 0]
    weighted = exposure_counts(recs, 3, [2], user_weights=np.array([[2.0, 0.0], [1.0, 1.0]]))
    assert weighted[2].tolist() == [[2, 2, 0], [2, 1, 0]]
    assert coverage(plain[2]) == pytest.approx(2 / 3)
    levels = list_level(weighted)
    assert levels["coverage@2"].tolist() == pytest.approx([2 / 3, 2 / 3]) and levels["gini@2"].shape == (2,)


def test_gini_hand_values():
    assert gini(np.array([0, 0, 5])) == pytest.approx(2 / 3)  # all exposure on one of 3 items: (n - 1) / n
    assert gini(np.array([4, 4, 4])) == pytest.approx(0.0)
    assert math.isnan(gini(np.zeros(3)))


@given(hnp.arrays(np.int64, st.integers(1, 30), elements=st.integers(0, 50)))
@settings(max_examples=60, deadline=None)
def test_gini_matches_mean_absolute_difference_definition(counts):
    if counts.sum() == 0:
        return
    reference = np.abs(counts[:, None] - counts[None, :]).sum() / (2 * len(counts) ** 2 * counts.mean())
    assert gini(counts) == pytest.approx(reference)


def test_per_user_beyond_values():
    popularity = np.array([10, 5, 0, 1, 0])  # head = item 0 only (ceil(0.2 * 5) = 1)
    recs = np.array([[0, 2], [3, -1]])
    out = per_user_beyond(recs, [2], popularity, vectors=np.eye(5))
    np.testing.assert_allclose(out["tail_share@2"], [0.5, 1.0])
    np.testing.assert_allclose(out["avg_pop@2"], [5.0, 1.0])
    # p = (pop + 1) / (16 + 5): items 0 and 2 -> 11/21 and 1/21, item 3 -> 2/21
    np.testing.assert_allclose(out["novelty@2"], [np.log2([21 / 11, 21]).mean(), np.log2(21 / 2)])
    assert out["diversity@2"][0] == 1.0 and math.isnan(out["diversity@2"][1])


def test_feature_vectors_from_columns():
    table = FeatureTable(
        4,
        {
            "brand": categorical(np.array(["a", "b", None, "a"], dtype=object)),
            "genres": multi_valued([["x"], ["x", "y"], [], ["y"]]),
            "price": NumericColumn(np.ones(4, np.float32)),
        },
    )
    assert feature_vectors(table, "brand").tolist() == [[1, 0], [0, 1], [0, 0], [1, 0]]
    assert feature_vectors(table, "genres").tolist() == [[1, 0], [1, 1], [0, 0], [0, 1]]
    with pytest.raises(ConfigError, match="'price' is numeric"):
        feature_vectors(table, "price")
    with pytest.raises(ConfigError, match="no item feature column 'color'"):
        feature_vectors(table, "color")
