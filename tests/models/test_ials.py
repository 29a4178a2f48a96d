"""iALS: the shared suite for both solvers, the normal equations against a dense numpy reference,
CG against Cholesky, fold-in (which must reproduce a training user's vector) and the NCF accuracy target."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp
from tests.models.suite import ModelSuite, ncf_accuracy

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError, DataError, NotFittedError
from shoprec.models import ials
from shoprec.models.ials import IALS

SMALL = {"embedding_size": 4, "epochs": 8, "reg": 0.1, "alpha": 5.0}


class TestIALS(ModelSuite):
    model_name = "ials"
    params: ClassVar[dict[str, Any]] = SMALL
    seed_sensitive = True


class TestIALSCholesky(ModelSuite):
    model_name = "ials"
    params: ClassVar[dict[str, Any]] = {**SMALL, "solver": "cholesky"}
    seed_sensitive = True


def weighted_dataset(rng: np.random.Generator, n_users: int = 20, n_items: int = 15) -> Dataset:
    """Random events with weights 1..5 (e.g. view / cart / purchase) so that confidences differ."""
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.3)
    weights = rng.integers(1, 6, len(users)).astype(np.float32)
    return Dataset(
        "weighted",
        Interactions.build(users, items, weights),
        Vocabulary(np.arange(n_users).astype(str)),
        Vocabulary(np.arange(n_items).astype(str)),
    )


@pytest.mark.parametrize("reg_exponent", [0.0, 1.0, 0.5])
def test_user_vectors_solve_the_dense_normal_equations(rng: np.random.Generator, reg_exponent: float) -> None:
    """Independent reference: with item factors Y fixed, each x_u solves
    (Yᵀ C_u Y + λ_u I) x_u = Yᵀ C_u p_u, C_u = diag(1 + alpha·w_u), λ_u = reg·(Σ_i c_ui)^reg_exponent."""
    data = weighted_dataset(rng)
    alpha, reg = 2.0, 0.05
    model = IALS(embedding_size=6, epochs=3, reg=reg, alpha=alpha, reg_exponent=reg_exponent, solver="cholesky")
    model.fit(data)
    w = data.to_csr().toarray().astype(np.float64)
    x, y = model.user_vectors().astype(np.float64), model.item_vectors().astype(np.float64)
    conf = 1.0 + alpha * w
    lam = reg * conf.sum(axis=1) ** reg_exponent
    lhs = np.einsum("ui,id,ie->ude", conf, y, y) + lam[:, None, None] * np.eye(6)
    rhs = (conf * (w > 0)) @ y
    np.testing.assert_allclose(np.einsum("ude,ue->ud", lhs, x), rhs, atol=2e-4)


def test_conjugate_gradient_with_enough_steps_matches_cholesky(rng: np.random.Generator) -> None:
    data = weighted_dataset(rng)
    exact = IALS(embedding_size=4, epochs=3, solver="cholesky").fit(data)
    cg = IALS(embedding_size=4, epochs=3, solver="cg", cg_steps=12).fit(data)
    np.testing.assert_allclose(cg.user_vectors(), exact.user_vectors(), atol=1e-3)
    np.testing.assert_allclose(cg.item_vectors(), exact.item_vectors(), atol=1e-3)


def test_chunking_does_not_change_the_solution(rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    data = weighted_dataset(rng)
    big = IALS(embedding_size=4, epochs=2, solver="cholesky").fit(data)
    monkeypatch.setattr(ials, "CHUNK_BUDGET", 1)  # one row per chunk
    small = IALS(embedding_size=4, epochs=2, solver="cholesky").fit(data)
    np.testing.assert_allclose(small.user_vectors(), big.user_vectors(), atol=1e-5)


@pytest.mark.parametrize(("solver", "tolerance"), [("cholesky", 1e-5), ("cg", 2e-2)])
def test_fold_in_reproduces_a_training_users_vector(rng: np.random.Generator, solver: str, tolerance: float) -> None:
    """The last half-step solves the users, so folding in a user's own history gives back their vector
    (exactly for Cholesky, up to the last few CG steps for CG): relative error per vector below `tolerance`."""
    data = weighted_dataset(rng)
    model = IALS(embedding_size=6, epochs=12, solver=solver).fit(data)
    history = data.to_csr()
    trained = model.user_vectors()
    single = np.stack([model.fold_in(history[u].indices, history[u].data) for u in (0, 7, 13)])
    for folded, expected in ((single, trained[[0, 7, 13]]), (model.fold_in_batch(history), trained)):
        error = np.linalg.norm(folded - expected, axis=1) / np.linalg.norm(expected, axis=1)
        assert error.max() < tolerance


def test_fold_in_batch_equals_single_fold_ins_and_handles_empty_histories(rng: np.random.Generator) -> None:
    model = IALS(embedding_size=5, epochs=4).fit(weighted_dataset(rng))
    histories = sp.csr_matrix(np.array([[0, 2, 0, 1] + [0] * 11, [0] * 15, [3] + [0] * 13 + [1]], dtype=np.float32))
    batch = model.fold_in_batch(histories)
    assert batch.shape == (3, 5) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0], model.fold_in(np.array([1, 3]), np.array([2.0, 1.0])), atol=1e-6)
    np.testing.assert_array_equal(batch[1], np.zeros(5))
    np.testing.assert_allclose(batch[2], model.fold_in(np.array([0, 14, 0, 0])), atol=1e-6)


def test_weights_raise_confidence(rng: np.random.Generator) -> None:
    """A strongly weighted event pulls the folded-in vector towards that item."""
    model = IALS(embedding_size=5, epochs=4).fit(weighted_dataset(rng))
    items = model.item_vectors()
    plain = model.fold_in(np.array([2, 9]))
    heavy = model.fold_in(np.array([2, 9]), np.array([20.0, 1.0]))
    assert heavy @ items[2] > plain @ items[2]
    assert not np.allclose(plain, heavy)


def test_recommend_from_history_matches_recommend_for_a_training_user(rng: np.random.Generator) -> None:
    data = weighted_dataset(rng)
    model = IALS(embedding_size=6, epochs=6, solver="cholesky").fit(data)
    row = data.to_csr()[4]
    items, scores = model.recommend_from_history(row.indices, row.data, n=6)
    expected_items, expected_scores = model.recommend(np.array([4]), n=6)
    np.testing.assert_array_equal(items, expected_items[0])
    np.testing.assert_allclose(scores, expected_scores[0], atol=1e-5)
    assert not np.isin(items, row.indices).any()
    everything, _ = model.recommend_from_history(row.indices, row.data, n=20, exclude_seen=False)
    assert np.isin(row.indices, everything).all() and (everything[15:] == -1).all()
    nothing_yet = model.recommend_from_history(np.array([], dtype=np.int64), n=5)
    for got, expected in zip(nothing_yet, model.recommend(np.array([-1]), n=5), strict=True):
        np.testing.assert_array_equal(got, expected[0])


def test_fold_in_refuses_bad_input(rng: np.random.Generator) -> None:
    with pytest.raises(NotFittedError):
        IALS().fold_in(np.array([0]))
    model = IALS(embedding_size=4, epochs=1).fit(weighted_dataset(rng))
    with pytest.raises(DataError, match="out of range"):
        model.fold_in(np.array([0, 15]))
    with pytest.raises(DataError, match="2 items but 1 weights"):
        model.fold_in(np.array([0, 1]), np.array([1.0]))
    with pytest.raises(DataError, match="expected 15"):
        model.fold_in_batch(sp.csr_matrix((2, 14), dtype=np.float32))
    with pytest.raises(ConfigError, match="n must be > 0"):
        model.recommend_from_history(np.array([0]), n=0)


@pytest.mark.parametrize(
    ("param", "value"), [("solver", "lu"), ("reg", 0.0), ("cg_steps", 0), ("init_std", -1.0), ("reg_exponent", -1)]
)
def test_invalid_config_names_the_parameter(param: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"IALSConfig\.{param}"):
        IALS(**{param: value})


@pytest.mark.realdata
def test_ncf_ml1m_accuracy_target(real_data_dir: Path) -> None:
    """Acceptance: HR@10 >= 0.72 and NDCG@10 >= 0.445 on the NCF ML-1M protocol with the default config."""
    hr, ndcg = ncf_accuracy(IALS(), real_data_dir)
    assert hr >= 0.72 and ndcg >= 0.445, f"HR@10 {hr:.4f}, NDCG@10 {ndcg:.4f}"
