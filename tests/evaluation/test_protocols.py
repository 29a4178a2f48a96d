"""Protocols on hand-set scores, where every ranking and metric is known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shoprec.evaluation.protocols import evaluate_ratings, full_ranking, hit_matrix, sampled_ranking, user_rows
from shoprec.exceptions import DataError


def test_full_ranking_hand_computed(hand_split, hand_model):
    split, model = hand_split, hand_model
    run = full_ranking(model, split.test, [1, 3], exclude=split.valid)
    assert run.users.tolist() == [0, 1, 2]
    assert run.recs.tolist() == [[2, 3, 4], [5, 3, 2], [1, 2, 3]]  # train item 0 and valid item 1 of user 0 excluded
    assert run.hits.tolist() == [[True, False, False], [True, False, False], [False, False, True]]
    np.testing.assert_allclose(run.per_user["hr@1"], [1, 1, 0])
    # user 1's item 4 can never be ranked but still counts as relevant: recall 1/2, not 1
    np.testing.assert_allclose(run.per_user["recall@3"], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(run.per_user["ndcg@3"], [1 / (1 + 1 / math.log2(3)), 1 / (1 + 1 / math.log2(3)), 0.5])
    np.testing.assert_allclose(run.per_user["mrr@3"], [1, 1, 1 / 3])
    # AUC over non-excluded items: user 0 {2,5} vs {3,4}: 2/4; user 1 {4,5} vs {1,2,3}: 3/6; user 2 {3} vs {1,2,4,5}
    np.testing.assert_allclose(run.per_user["auc"], [0.5, 0.5, 0.5])
    assert set(run.timings) == {"recommend", "metrics", "auc"}


def test_full_ranking_on_valid_excludes_only_training(hand_split, hand_model):
    split, model = hand_split, hand_model
    run = full_ranking(model, split.valid, [1], with_auc=False)
    assert run.users.tolist() == [0] and run.recs.tolist() == [[1]] and run.per_user["hr@1"].tolist() == [1.0]
    assert "auc" not in run.per_user


def test_hit_matrix_ignores_padding_and_other_rows(make_dataset):
    relevant = user_rows(make_dataset([(0, 2), (1, 0)], 2, 3), np.array([0, 1]))
    recs = np.array([[2, 0, -1], [-1, 2, 0]])
    assert hit_matrix(recs, relevant).tolist() == [[True, False, False], [False, False, True]]


def test_sampled_ranking_hand_computed(hand_split, hand_model):
    split, model = hand_split, hand_model
    negative_users = np.array([2, 0, 1])  # rows in any order
    negatives = np.array([[1, 2, 4], [3, 4, 1], [4, 1, 2]])
    run = sampled_ranking(model, split.test, negative_users, negatives, [1, 3])
    assert run.recs is None and run.users.tolist() == [0, 1, 2]
    # user 0: item 2 ranks 2nd (item 1 above), item 5 4th; user 1: item 5 first, item 4 (-inf) 3rd of its 3
    # candidates (the listed negative 4 is the held-out item itself and is dropped); user 2: item 3 ranks 3rd
    np.testing.assert_allclose(run.per_user["hr@1"], [0.0, 0.5, 0.0])
    np.testing.assert_allclose(run.per_user["hr@3"], [0.5, 1.0, 1.0])
    np.testing.assert_allclose(run.per_user["mrr@3"], [0.25, (1 + 1 / 3) / 2, 1 / 3])
    np.testing.assert_allclose(run.per_user["ndcg@3"], [0.5 / math.log2(3), (1 + 0.5) / 2, 0.5])
    np.testing.assert_allclose(run.per_user["auc"], [(2 / 3 + 0) / 2, (1 + 0) / 2, 1 / 3])
    assert set(run.per_user) == {f"{m}@{k}" for m in ("hr", "ndcg", "mrr") for k in (1, 3)} | {"auc"}


def test_ties_are_pessimistic_so_a_constant_model_gets_no_hits(hand_split, fixed_model):
    split = hand_split
    model = fixed_model(np.ones((3, 6), np.float32), split.train)
    negatives = np.array([[1, 3, 4], [1, 2, 3], [1, 2, 4]])
    run = sampled_ranking(model, split.test, np.array([0, 1, 2]), negatives, [1, 3])
    np.testing.assert_allclose(run.per_user["hr@3"], 0.0)  # every tied negative ranks above the held-out item
    np.testing.assert_allclose(run.per_user["auc"], 0.5)  # AUC counts ties one half


def test_sampled_ranking_needs_negatives_for_every_user(hand_split, hand_model):
    split, model = hand_split, hand_model
    with pytest.raises(DataError, match="user index 2 of pairs has no sampled negatives"):
        sampled_ranking(model, split.test, np.array([0, 1]), np.array([[1], [1]]), [1])


def test_evaluate_ratings_hand_computed(hand_split, hand_model, make_dataset):
    test = make_dataset([(0, 1), (2, 3)], 3, 6, ratings=[3.0, 4.0])  # predictions 4.0 and 3.0
    assert evaluate_ratings(hand_model, test) == pytest.approx({"rmse": 1.0, "mae": 1.0})
    with pytest.raises(DataError, match="needs explicit ratings"):
        evaluate_ratings(hand_model, hand_split.train)


def test_rows_without_a_real_negative_are_undefined(hand_split, hand_model):
    split, model = hand_split, hand_model
    # user 2's only listed negative is its held-out item 3; user 0's second row (item 5) is a plain miss
    negatives = np.array([[1], [1], [3]])
    run = sampled_ranking(model, split.test, np.array([0, 1, 2]), negatives, [1])
    np.testing.assert_allclose(run.per_user["hr@1"], [0.0, 0.5, np.nan])
    assert np.isnan(run.per_user["auc"][2])
