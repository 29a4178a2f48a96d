"""Item-kNN: the shared suite, hand-computed cosines, top-k and shrinkage against a dense reference,
and column blocking that does not change the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics.pairwise import cosine_similarity
from tests.models.suite import ModelSuite, ncf_accuracy

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError
from shoprec.models import item_knn
from shoprec.models.item_knn import ItemKNN, cosine_top_k


class TestItemKNN(ModelSuite):
    model_name = "item_knn"
    params: ClassVar[dict[str, Any]] = {"neighbors": 10}


#: users x items: item 0 {u0, u1}, item 1 {u0, u1, u2}, item 2 {u1, u2}, item 3 {u2}
TINY = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1]], dtype=np.float32)


def as_dataset(matrix: np.ndarray) -> Dataset:
    users, items = np.nonzero(matrix)
    n_users, n_items = matrix.shape
    vocab = Vocabulary(np.arange(n_users).astype(str)), Vocabulary(np.arange(n_items).astype(str))
    return Dataset("m", Interactions.build(users, items), *vocab)


def test_hand_computed_cosines_and_scores() -> None:
    s = cosine_top_k(sp.csr_matrix(TINY), k=3).toarray()
    r6, r3, r2 = 2 / np.sqrt(6), 1 / np.sqrt(3), 1 / np.sqrt(2)
    expected = np.array([[0, r6, 0.5, 0], [r6, 0, r6, r3], [0.5, r6, 0, r2], [0, r3, r2, 0]])
    np.testing.assert_allclose(s, expected, rtol=1e-6)
    model = ItemKNN(neighbors=3).fit(as_dataset(TINY))
    # user 0 has items {0, 1}: score of item 2 = s[0, 2] + s[1, 2], of item 3 = s[1, 3]
    np.testing.assert_allclose(model.score(np.array([0]), np.array([[2, 3]])), [[0.5 + r6, r3]], rtol=1e-6)
    items, _ = model.recommend(np.array([0]), n=4)
    np.testing.assert_array_equal(items, [[2, 3, -1, -1]])


def test_neighbors_keep_the_largest_similarities_per_column() -> None:
    s = cosine_top_k(sp.csr_matrix(TINY), k=1).toarray()
    # column 3 (item 3): neighbours 1 (1/sqrt 3) and 2 (1/sqrt 2): only item 2 stays
    np.testing.assert_allclose(s[:, 3], [0, 0, 1 / np.sqrt(2), 0], rtol=1e-6)
    assert ((s > 0).sum(axis=0) == 1).all()


def test_shrinkage_damps_the_denominator() -> None:
    s = cosine_top_k(sp.csr_matrix(TINY), k=3, shrinkage=1.0).toarray()
    assert s[0, 1] == pytest.approx(2 / (np.sqrt(6) + 1))
    assert s[2, 3] == pytest.approx(1 / (np.sqrt(2) + 1))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_users=st.integers(1, 15),
    n_items=st.integers(2, 12),
    k=st.integers(1, 14),
    budget=st.sampled_from([1, 20, 1 << 24]),
)
def test_top_k_against_a_dense_reference(seed: int, n_users: int, n_items: int, k: int, budget: int) -> None:
    """Every column keeps min(k, positives) similarities, none smaller than a dropped one, whatever the block."""
    matrix = (np.random.default_rng(seed).random((n_users, n_items)) < 0.4).astype(np.float32)
    reference = cosine_similarity(matrix.T)
    np.fill_diagonal(reference, 0.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(item_knn, "SIMILARITY_BUDGET", budget)
        s = cosine_top_k(sp.csr_matrix(matrix), k=k).toarray()
    kept = s > 0
    np.testing.assert_allclose(s[kept], reference[kept], rtol=1e-5)
    np.testing.assert_array_equal(kept.sum(axis=0), np.minimum(k, (reference > 1e-7).sum(axis=0)))
    smallest_kept = np.where(kept, s, np.inf).min(axis=0)
    largest_dropped = np.where(kept, -np.inf, reference).max(axis=0)
    assert (smallest_kept >= largest_dropped - 1e-6).all()


def test_negative_shrinkage_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"ItemKNNConfig\.shrinkage"):
        ItemKNN(shrinkage=-1.0)
    with pytest.raises(ConfigError, match="neighbors"):
        ItemKNN(neighbors=0)


@pytest.mark.realdata
def test_ncf_ml1m_accuracy(real_data_dir: Path) -> None:
    """Measured 0.6621 / 0.3904 (100 neighbours): well above popularity (0.4531 / 0.2541), below iALS."""
    hr, ndcg = ncf_accuracy(ItemKNN(), real_data_dir)
    assert hr >= 0.65 and ndcg >= 0.38, f"HR@10 {hr:.4f}, NDCG@10 {ndcg:.4f}"
