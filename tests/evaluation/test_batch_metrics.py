"""Vectorised metrics: the hit-matrix metrics and the catalog AUC agree with the pure definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import roc_auc_score

from shoprec.evaluation import metrics
from shoprec.evaluation.batch import RANKING_METRICS, catalog_auc, ranking_metrics
from shoprec.exceptions import ConfigError

PURE = {
    "hr": metrics.hit_rate,
    "precision": metrics.precision,
    "recall": metrics.recall,
    "f1": metrics.f1,
    "ndcg": metrics.ndcg,
    "mrr": metrics.mrr,
    "map": metrics.average_precision,
}


def test_hand_computed_hit_matrix():
    hits = np.array([[0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)
    out = ranking_metrics(hits, [3, 1, 0], ks=[2, 4])
    assert set(out) == {f"{m}@{k}" for m in RANKING_METRICS for k in (2, 4)}
    np.testing.assert_allclose(out["precision@4"], [0.5, 0.25, 0.0])
    np.testing.assert_allclose(out["recall@2"][:2], [1 / 3, 1.0])
    np.testing.assert_allclose(out["mrr@4"], [0.5, 1.0, 0.0])
    np.testing.assert_allclose(out["map@4"][:2], [(1 / 2 + 2 / 4) / 3, 1.0])
    np.testing.assert_allclose(out["ndcg@2"][:2], [(1 / math.log2(3)) / (1 + 1 / math.log2(3)), 1.0])
    for name in ("recall@4", "ndcg@4", "map@4", "f1@4"):  # no relevant item: undefined
        assert math.isnan(out[name][2])
    assert out["hr@4"][2] == 0.0 and out["precision@4"][2] == 0.0


def test_ks_beyond_the_list_are_refused():
    with pytest.raises(ConfigError, match=r"ks must lie in 1\.\.3"):
        ranking_metrics(np.zeros((2, 3), dtype=bool), [1, 1], ks=[4])


@st.composite
def user_lists(draw):
    n_items = draw(st.integers(2, 12))
    width = draw(st.integers(1, n_items))
    n_users = draw(st.integers(1, 4))
    lists, relevant = [], []
    for _ in range(n_users):
        ranked = draw(st.permutations(list(range(n_items))))[:width]
        pad = draw(st.integers(0, width - 1))  # short lists padded with -1
        lists.append(list(ranked[: width - pad]) + [-1] * pad)
        relevant.append(sorted(draw(st.sets(st.integers(0, n_items - 1), max_size=n_items))))
    return np.asarray(lists, dtype=np.int64), relevant


@given(user_lists())
@settings(max_examples=80, deadline=None)
def test_matches_pure_functions_at_every_k(case):
    recs, relevant = case
    hits = np.array([[item >= 0 and item in rel for item in row] for row, rel in zip(recs, relevant, strict=True)])
    out = ranking_metrics(hits, [len(r) for r in relevant])
    for name, fn in PURE.items():
        for k in range(1, recs.shape[1] + 1):
            expected = [fn(row, rel, k) for row, rel in zip(recs, relevant, strict=True)]
            np.testing.assert_allclose(out[f"{name}@{k}"], expected, err_msg=f"{name}@{k}")


@st.composite
def score_matrices(draw):
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 20)))
    scores = draw(hnp.arrays(np.float32, shape, elements=st.integers(-3, 3).map(float)))  # many ties
    return scores, draw(hnp.arrays(bool, shape)), draw(hnp.arrays(bool, shape))


@given(score_matrices())
@settings(max_examples=80, deadline=None)
def test_catalog_auc_matches_pure_auc_and_sklearn(case):
    scores, pos, exc = case
    before = scores.copy()
    got = catalog_auc(scores, sp.csr_matrix(pos), sp.csr_matrix(exc))
    np.testing.assert_array_equal(scores, before)  # not overwritten unless asked
    for u in range(len(scores)):
        expected = metrics.auc(scores[u], np.flatnonzero(pos[u]), exclude=np.flatnonzero(exc[u]))
        np.testing.assert_allclose(got[u], expected)
    u = int(np.argmax(pos.sum(axis=1)))  # one row against sklearn (slow to call)
    keep = pos[u] | ~exc[u]
    if 0 < pos[u].sum() < keep.sum():
        assert got[u] == pytest.approx(roc_auc_score(pos[u][keep], scores[u][keep]))


def test_catalog_auc_hand_computed_with_ties_and_overwrite():
    scores = np.array([[3.0, 1.0, 2.0, 2.0, 0.0]], dtype=np.float32)
    positives = sp.csr_matrix(np.array([[0, 0, 1, 0, 0]]))
    excluded = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]]))
    # positive 2 (score 2) vs negatives 1 (1.0, below), 3 (2.0, tie), 4 (0.0, below): (2 + 0.5) / 3
    assert catalog_auc(scores, positives, excluded, overwrite=True)[0] == pytest.approx(2.5 / 3)
    no_negative = catalog_auc(np.zeros((1, 2), np.float32), sp.csr_matrix(np.array([[1, 1]])))
    assert math.isnan(no_negative[0])
