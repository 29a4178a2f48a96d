"""Metrics of labelled predictions against hand-computed values and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import mean_absolute_error, mean_squared_error, roc_auc_score

from shoprec.evaluation.labelled import gauc, group_auc, log_loss, mae, rmse, roc_auc
from shoprec.exceptions import DataError


def test_hand_computed_auc_with_a_tie():
    # positives score 0.9 and 0.5, negatives 0.5 and 0.1: pairs (0.9>0.5, 0.9>0.1, 0.5=0.5, 0.5>0.1) -> 3.5 / 4
    assert roc_auc([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(0.875)
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_gauc_hand_computed():
    users = ["a", "a", "a", "b", "b", "c"]
    labels = [1, 0, 0, 0, 1, 1]
    scores = [0.9, 0.5, 0.95, 0.7, 0.3, 0.4]
    # a: 1 of 2 pairs right -> 0.5 (3 impressions); b: 0 (2 impressions); c: one class, left out
    assert gauc(users, labels, scores) == pytest.approx((0.5 * 3 + 0.0 * 2) / 5)
    auc, size = group_auc(np.array([0, 0, 2]), np.array([1, 0, 1]), np.array([1.0, 0.0, 5.0]))
    assert auc[0] == 1.0 and math.isnan(auc[1]) and math.isnan(auc[2]) and size.tolist() == [2, 0, 1]


@given(
    hnp.arrays(np.int64, st.integers(2, 60), elements=st.integers(0, 1)),
    st.integers(0, 2**31 - 1),
)
@settings(max_examples=60, deadline=None)
def test_auc_and_gauc_match_sklearn(labels, seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, len(labels)).astype(np.float64)  # coarse scores: many ties
    users = rng.integers(0, 4, len(labels))
    if 0 < labels.sum() < len(labels):
        assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    weighted, total = 0.0, 0
    for u in np.unique(users):
        mask = users == u
        if 0 < labels[mask].sum() < mask.sum():
            weighted += roc_auc_score(labels[mask], scores[mask]) * mask.sum()
            total += mask.sum()
    expected = weighted / total if total else float("nan")
    np.testing.assert_allclose(gauc(users, labels, scores), expected)


@given(hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(0.01, 0.99)), st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_log_loss_rmse_mae_match_sklearn(probs, seed):
    labels = np.random.default_rng(seed).integers(0, 2, len(probs))
    assert log_loss(labels, probs) == pytest.approx(sk_log_loss(labels, probs, labels=[0, 1]))
    truth = labels * 4.0 + 1.0
    assert rmse(truth, probs * 5) == pytest.approx(math.sqrt(mean_squared_error(truth, probs * 5)))
    assert mae(truth, probs * 5) == pytest.approx(mean_absolute_error(truth, probs * 5))


def test_log_loss_clips_confident_misses_and_hand_values():
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))
    assert math.isfinite(log_loss([1], [0.0]))
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    assert math.isnan(rmse([], [])) and math.isnan(log_loss([], []))


def test_length_mismatch_names_the_argument():
    with pytest.raises(DataError, match="y_pred has 1 values, expected 2"):
        rmse([1, 2], [1])
