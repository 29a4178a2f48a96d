"""Pure per-list ranking metrics: hand-computed cases, scikit-learn references and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, ndcg_score, roc_auc_score

from shoprec.evaluation.metrics import (
    auc,
    average_precision,
    f1,
    graded_ndcg,
    hit_rate,
    mrr,
    ndcg,
    precision,
    recall,
)
from shoprec.exceptions import ConfigError

LIST_METRICS = (precision, recall, f1, hit_rate, ndcg, mrr, average_precision)


def test_hand_computed_list():
    ranked, relevant = [5, 1, 6, 2], {1, 2, 9}
    assert precision(ranked, relevant, 4) == 0.5
    assert recall(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert f1(ranked, relevant, 4) == pytest.approx(4 / 7)
    assert hit_rate(ranked, relevant, 1) == 0.0 and hit_rate(ranked, relevant, 2) == 1.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert ndcg(ranked, relevant, 4) == pytest.approx(dcg / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    assert ndcg(ranked, relevant, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert mrr(ranked, relevant, 4) == 0.5 and mrr(ranked, relevant, 1) == 0.0
    assert average_precision(ranked, relevant, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert average_precision(ranked, relevant, 2) == pytest.approx((1 / 2) / 2)  # normalised by min(|rel|, k)


def test_padding_never_matches_and_short_lists_divide_by_k():
    assert precision([3, -1, -1], [3, -1], 3) == pytest.approx(1 / 3)
    assert recall([3, -1, -1], [3], 3) == 1.0
    assert ndcg([-1, 3], [3], 2) == pytest.approx(1 / math.log2(3))


def test_undefined_without_relevant_items():
    for metric in (recall, f1, ndcg, average_precision):
        assert math.isnan(metric([1, 2], [], 2))
    assert precision([1, 2], [], 2) == 0.0 and hit_rate([1, 2], [], 2) == 0.0 and mrr([1, 2], [], 2) == 0.0
    assert math.isnan(graded_ndcg([1, 2], {3: 0.0}, 2))


@pytest.mark.parametrize("metric", LIST_METRICS)
def test_k_must_be_positive(metric):
    with pytest.raises(ConfigError, match="k must be > 0"):
        metric([1], [1], 0)


def test_graded_ndcg_hand_computed():
    gains = {7: 3.0, 8: 1.0, 9: 2.0}
    ranked = [8, 4, 7]
    expected = (1.0 + 3.0 / math.log2(4)) / (3.0 + 2.0 / math.log2(3) + 1.0 / math.log2(4))
    assert graded_ndcg(ranked, gains, 3) == pytest.approx(expected)
    assert graded_ndcg([7, 9, 8], gains, 3) == pytest.approx(1.0)


def test_one_users_auc_hand_computed():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 2.0, 0.0])
    # positives 2 and 5, negatives 1, 3, 4 (0 excluded): 2 beats 3 and 4, loses to 1; 5 beats none
    assert auc(scores, [2, 5], exclude=[0]) == pytest.approx(2 / 6)
    # a tie counts one half: positive 3 vs negative 4 (both 2.0)
    assert auc(scores, [3], exclude=[0, 1, 2, 5]) == pytest.approx(0.5)
    assert math.isnan(auc(scores, [], exclude=[]))


@st.composite
def ranking_case(draw):
    n_items = draw(st.integers(1, 30))
    scores = draw(st.permutations(list(range(n_items))))  # distinct scores, so sklearn's tie rules do not matter
    relevant = draw(st.sets(st.integers(0, n_items - 1), min_size=1))
    k = draw(st.integers(1, n_items + 3))
    return np.asarray(scores, dtype=np.float64), sorted(relevant), k


@given(ranking_case())
@settings(max_examples=150, deadline=None)
def test_agrees_with_sklearn_where_definitions_match(case):
    scores, relevant, k = case
    ranked = np.argsort(-scores)
    y_true = np.zeros(len(scores))
    y_true[relevant] = 1
    if len(scores) > 1:  # sklearn's ndcg_score needs more than one document
        assert ndcg(ranked, relevant, k) == pytest.approx(ndcg_score([y_true], [scores], k=k))
    # sklearn's AP ranks the whole catalog and divides by all positives: our AP@k with k = n_items
    assert average_precision(ranked, relevant, len(scores)) == pytest.approx(average_precision_score(y_true, scores))
    if 0 < len(relevant) < len(scores):
        assert auc(scores, relevant) == pytest.approx(roc_auc_score(y_true, scores))


@given(ranking_case(), st.lists(st.floats(0.5, 5.0), min_size=30, max_size=30))
@settings(max_examples=80, deadline=None)
def test_graded_ndcg_agrees_with_sklearn(case, gain_values):
    scores, relevant, k = case
    if len(scores) < 2:
        return
    gains = {item: gain_values[item] for item in relevant}
    y_true = np.zeros(len(scores))
    y_true[relevant] = [gains[i] for i in relevant]
    assert graded_ndcg(np.argsort(-scores), gains, k) == pytest.approx(ndcg_score([y_true], [scores], k=k))


@given(ranking_case(), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_properties(case, random):
    scores, relevant, k = case
    ranked = list(np.argsort(-scores))
    values = {m.__name__: m(ranked, relevant, k) for m in LIST_METRICS}
    assert all(0.0 <= v <= 1.0 for v in values.values())
    assert values["hit_rate"] >= values["precision"]
    assert values["hit_rate"] >= values["recall"] and values["hit_rate"] >= values["mrr"]
    assert (values["ndcg"] > 0) == (values["hit_rate"] > 0) == (values["average_precision"] > 0)
    assert recall(ranked, relevant, k + 1) >= values["recall"]
    shuffled = list(relevant)
    random.shuffle(shuffled)
    assert {m.__name__: m(ranked, shuffled, k) for m in LIST_METRICS} == values
    perfect = relevant + [i for i in ranked if i not in relevant]
    assert ndcg(perfect, relevant, k) == pytest.approx(1.0)
    assert average_precision(perfect, relevant, k) == pytest.approx(1.0)
    assert mrr(perfect, relevant, k) == 1.0
    assert recall(perfect, relevant, k) == pytest.approx(min(1.0, k / len(relevant)))
