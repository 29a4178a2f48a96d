"""Tie and NaN rules: full-ranking results do not depend on the ks asked for, ties are pessimistic, NaN ranks last,
and every confidence interval contains its estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.evaluation.conftest import FixedScores, pairs_dataset

from shoprec.data.dataset import Split
from shoprec.evaluation import evaluate, ranking_metrics
from shoprec.evaluation.protocols import full_ranking, sampled_ranking
from shoprec.evaluation.ranking import nan_last, pessimistic_positions, stable_top

N_USERS, N_ITEMS = 6, 120


@st.composite
def tied_problems(draw):
    """Scores with many ties (a few levels, some NaN), and disjoint train / valid / test pairs."""
    seed = draw(st.integers(0, 2**32 - 1))
    levels = draw(st.integers(1, 4))
    rng = np.random.default_rng(seed)
    table = rng.integers(0, levels, (N_USERS, N_ITEMS)).astype(np.float32)
    table[rng.random(table.shape) < draw(st.sampled_from([0.0, 0.05]))] = np.nan
    part = rng.choice(4, size=(N_USERS, N_ITEMS), p=[0.15, 0.05, 0.1, 0.7])  # train, valid, test, none
    part[:, 0] = 2  # every user has a test item
    pairs = {p: [(int(u), int(i)) for u, i in zip(*np.nonzero(part == p), strict=True)] for p in range(3)}
    split = Split(
        train=pairs_dataset(pairs[0], N_USERS, N_ITEMS),
        valid=pairs_dataset(pairs[1], N_USERS, N_ITEMS) if pairs[1] else None,
        test=pairs_dataset(pairs[2], N_USERS, N_ITEMS),
    )
    return table, split


def _reference(table: np.ndarray, split: Split, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per user, by brute force: the list ordered by (score desc, item asc) and the hits of the pessimistic order
    (score desc, held-out items after the others of equal score), NaN last, training and valid items removed."""
    users = np.unique(split.test.interactions.users)
    taken = split.train.to_csr(values="ones").toarray() > 0
    if split.valid is not None:
        taken |= split.valid.to_csr(values="ones").toarray() > 0
    relevant = split.test.to_csr(values="ones").toarray() > 0
    recs = np.full((len(users), width), -1)
    hits = np.zeros((len(users), width), dtype=bool)
    for row, u in enumerate(users):
        scores = np.where(np.isnan(table[u]), -np.inf, table[u]).astype(np.float64)
        items = [i for i in range(N_ITEMS) if not taken[u, i] and np.isfinite(scores[i])]
        listed = sorted(items, key=lambda i: (-scores[i], i))[:width]
        recs[row, : len(listed)] = listed
        pessimistic = sorted(items, key=lambda i: (-scores[i], bool(relevant[u, i]), i))[:width]
        hits[row, : len(pessimistic)] = relevant[u, pessimistic]
    return recs, hits


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_problems())
def test_full_ranking_at_k10_does_not_depend_on_the_largest_k(problem):
    table, split = problem
    model = FixedScores(table).fit(split.train)
    runs = {top: full_ranking(model, split.test, [10, top], exclude=split.valid) for top in (10, 20, 100)}
    first = runs[10]
    for top in (20, 100):
        np.testing.assert_array_equal(runs[top].recs[:, :10], first.recs)
        for name in [n for n in first.per_user if n.endswith("@10")] + ["auc"]:
            np.testing.assert_array_equal(runs[top].per_user[name], first.per_user[name], err_msg=name)
    recs, hits = _reference(table, split, 100)
    np.testing.assert_array_equal(runs[100].recs, recs)
    expected = ranking_metrics(hits, np.diff(first.relevant.indptr), [10, 100])
    for name, values in expected.items():
        np.testing.assert_allclose(runs[100].per_user[name], values, err_msg=name)


def test_evaluate_at_k10_is_the_same_whatever_ks_are_asked(block_dataset):
    from shoprec.models.popularity import Popularity

    rng = np.random.default_rng(3)
    part = rng.integers(0, 10, len(block_dataset))
    inter = block_dataset.interactions
    split = Split(
        train=block_dataset.with_interactions(inter.take(part >= 2)),
        valid=block_dataset.with_interactions(inter.take(part == 1)),
        test=block_dataset.with_interactions(inter.take(part == 0)),
    )
    model = Popularity().fit(split.train)
    results = [evaluate(model, split, ks=ks, ci=False).metrics for ks in ((10,), (10, 20), (10, 100))]
    at10 = {name: value for name, value in results[0].items() if name.endswith("@10") or name == "auc"}
    for other in results[1:]:
        assert {name: other[name] for name in at10} == at10


def test_a_constant_model_gets_no_hits_in_full_ranking(hand_split, fixed_model):
    model = fixed_model(np.ones((3, 6), np.float32), hand_split.train)
    run = full_ranking(model, hand_split.test, [1, 2, 3], exclude=hand_split.valid)
    # user 0 keeps 4 items ({2, 5} held out), user 1 and 2 keep 5: the held-out items take the bottom slots
    for k in (1, 2):
        np.testing.assert_array_equal(run.per_user[f"hr@{k}"], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(run.per_user["hr@3"], [1.0, 0.0, 0.0])
    assert run.recs.tolist() == [[2, 3, 4], [1, 2, 3], [1, 2, 3]]  # the shown list breaks ties by item index


def test_pessimistic_positions_hand_computed():
    scores = np.array([[3.0, 1.0, 3.0, 1.0, 1.0, -np.inf]], dtype=np.float32)
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 1, 0, 1]]))
    rows, items, positions = pessimistic_positions(scores.copy(), relevant)
    # items 1 and 3 tie with item 4 at score 1 below two items at 3: they take slots 3 and 4; item 5 (-inf) misses
    assert rows.tolist() == [0, 0, 0] and items.tolist() == [1, 3, 5]
    assert sorted(positions[:2].tolist()) == [3, 4] and positions[2] == -1


def test_stable_top_orders_ties_by_item_and_pads():
    scores = nan_last(np.array([[0.0, 2.0, -0.0, 2.0, np.nan, -np.inf]], dtype=np.float32))
    assert stable_top(scores, 6).tolist() == [[1, 3, 0, 2, -1, -1]]  # -0.0 equals 0.0; NaN and -inf not listed


def test_nan_scores_rank_last_in_full_ranking(hand_split, fixed_model):
    table = np.array([[np.nan] * 6, [0, 1, 2, 3, 4, 5], [np.nan, np.nan, 1, 1, np.nan, 1]], dtype=np.float32)
    model = fixed_model(table, hand_split.train)
    run = full_ranking(model, hand_split.test, [3], exclude=hand_split.valid)
    assert run.recs.tolist()[0] == [-1, -1, -1]  # nothing finite to recommend
    assert run.recs.tolist()[2] == [2, 3, 5]  # NaN items come after every finite one (here: not at all)
    np.testing.assert_array_equal(run.per_user["hr@3"], [0.0, 1.0, 1.0])
    assert run.per_user["auc"][0] == 0.5  # all NaN: every pair tied


def test_nan_scores_rank_last_in_the_sampled_protocol(hand_split, fixed_model):
    table = np.array([[0, 0, np.nan, 0, 0, np.nan], [0] * 6, [np.nan, np.nan, np.nan, 1, np.nan, np.nan]], np.float32)
    model = fixed_model(table, hand_split.train)
    negatives = np.array([[1, 3, 4], [1, 2, 3], [1, 2, 4]])
    run = sampled_ranking(model, hand_split.test, np.array([0, 1, 2]), negatives, [1, 3])
    # user 0's held-out items are NaN: below every negative (a miss), not a hit as NaN comparisons used to give
    np.testing.assert_array_equal(run.per_user["hr@3"], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(run.per_user["hr@1"], [0.0, 0.0, 1.0])  # user 2: NaN negatives rank below 1.0
    assert run.per_user["auc"][0] == 0.0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_problems(), st.integers(0, 1000))
def test_every_interval_contains_its_estimate(problem, seed):
    table, split = problem
    model = FixedScores(np.nan_to_num(table, nan=0.0)).fit(split.train)
    result = evaluate(model, split, ks=(1, 10), seed=seed, item_vectors=np.eye(N_ITEMS, 4, dtype=np.float32))
    assert set(result.ci) == set(result.metrics)
    for name, value in result.metrics.items():
        low, high = result.ci[name]
        if math.isnan(value) or math.isnan(low):
            continue
        tolerance = 1e-12 * max(1.0, abs(value))
        assert low - tolerance <= value <= high + tolerance, (name, low, value, high)


@pytest.mark.parametrize("drop", [False, True])
def test_unseen_items_stay_relevant_unless_dropped(make_split, fixed_model, drop):
    from shoprec.data.split import drop_unseen_items

    # item 3 occurs only in test, where popularity-like scores (0 for never-seen items) cannot reach it
    split = make_split(2, 4, [(0, 0), (1, 1), (0, 2), (1, 0)], [(0, 3), (1, 2)], method="loo")
    split = drop_unseen_items(split) if drop else split
    model = fixed_model(np.array([[2, 1, 1, 0], [2, 1, 1, 0]], np.float32), split.train)
    result = evaluate(model, split, ks=(1,), ci=False, segments=False, beyond_accuracy=False)
    assert result.unseen_share == (0.0 if drop else 0.5)
    assert result.metrics["hr@1"] == (1.0 if drop else 0.5)  # user 0's only test item is a miss, or is gone
    assert split.method == ("loo+drop_unseen" if drop else "loo")


def test_unseen_items_count_as_misses_even_when_ranked_first(make_split, fixed_model):
    # item 3 occurs only in test; the model ranks it first for user 0, yet it earns no hit (it was never trained
    # on), while it stays in the denominator: user 0 has two relevant items and one creditable hit.
    split = make_split(3, 4, [(0, 0), (1, 1), (2, 2)], [(0, 3), (0, 2), (1, 2)], method="loo")
    model = fixed_model(np.array([[0, 1, 2, 9], [2, 1, 3, 0], [0, 0, 0, 0]], np.float32), split.train)
    result = evaluate(model, split, ks=(1, 2), ci=False, segments=False, beyond_accuracy=False)
    assert result.unseen_share == pytest.approx(1 / 3)
    assert result.metrics["hr@1"] == 0.5  # user 0: item 3 first but unseen -> miss; user 1: item 2 first -> hit
    assert result.metrics["recall@2"] == 0.75  # user 0: 1 of 2 (item 2 at rank 2), user 1: 1 of 1
    ranked = evaluate(model, split, ks=(1,), ci=False, segments=False, beyond_accuracy=False, unseen_items="rank")
    assert ranked.metrics["hr@1"] == 1.0  # ranked on their scores instead (for models with item features)
