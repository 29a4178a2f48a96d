"""Segment breakdown and confidence intervals on hand-made per-user values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from shoprec.evaluation import confidence
from shoprec.evaluation.confidence import Z95, bootstrap_interval, bootstrap_weights, normal_interval
from shoprec.evaluation.segments import history_segments, popularity_segments


def test_history_bins_are_fixed_and_skip_nan():
    history = np.array([0, 3, 5, 6, 25, 21])
    per_user = {"hr@10": np.array([0.0, 1.0, 0.0, 1.0, np.nan, 1.0])}
    out = history_segments(history, per_user, ["hr@10"])
    assert list(out) == ["users:history=0", "users:history=1-5", "users:history=6-20", "users:history=21+"]
    assert out["users:history=1-5"] == {"n_users": 2.0, "hr@10": 0.5}
    assert out["users:history=21+"] == {"n_users": 2.0, "hr@10": 1.0}  # the NaN user is counted, not averaged
    assert "users:history=0" not in history_segments(np.array([7]), {"x": np.array([1.0])}, ["x"])


def test_head_and_tail_recall_count_only_their_items():
    head = np.array([True, False, False, False])
    hit_items = np.array([[0, 2], [-1, -1]])  # user 0 hits items 0 and 2; user 1 (list [3, -1]) hits nothing
    relevant = sp.csr_matrix(np.array([[1, 1, 1, 0], [0, 0, 1, 0]]))
    out = popularity_segments(hit_items, relevant, head, 2)
    assert out["items:head"] == {"n_users": 1.0, "recall@2": 1.0, "hr@2": 1.0}  # only user 0 has a head item
    assert out["items:tail"] == {"n_users": 2.0, "recall@2": 0.25, "hr@2": 0.5}  # user 0: 1 of 2, user 1: 0 of 1


def test_normal_interval_hand_computed():
    low, high = normal_interval(np.array([1.0, 2.0, 3.0, np.nan]))
    half = Z95 * 1.0 / math.sqrt(3)
    assert (low, high) == pytest.approx((2 - half, 2 + half))
    assert all(math.isnan(v) for v in normal_interval(np.array([1.0])))


def test_bootstrap_weights_are_seeded_poisson_chunks(monkeypatch):
    monkeypatch.setattr(confidence, "BOOTSTRAP_CHUNK", 30)
    chunks = list(bootstrap_weights(70, n_boot=400, seed=7))
    assert [(c.start, c.stop) for c, _ in chunks] == [(0, 30), (30, 60), (60, 70)]
    weights = np.hstack([w for _, w in chunks])
    assert weights.shape == (400, 70) and (weights >= 0).all() and (weights == np.round(weights)).all()
    assert weights.mean() == pytest.approx(1.0, abs=0.02) and weights.var() == pytest.approx(1.0, abs=0.05)
    again = np.hstack([w for _, w in bootstrap_weights(70, n_boot=400, seed=7)])
    np.testing.assert_array_equal(weights, again)


def test_bootstrap_interval_is_laid_around_the_estimate():
    replicates = np.array([1.0, 2.0, 3.0])  # sd 1, all below the estimate like coverage's replicates
    assert bootstrap_interval(10.0, replicates) == pytest.approx((10.0 - Z95, 10.0 + Z95))
    assert all(math.isnan(v) for v in bootstrap_interval(1.0, np.array([np.nan, 2.0])))
    assert all(math.isnan(v) for v in bootstrap_interval(float("nan"), replicates))
