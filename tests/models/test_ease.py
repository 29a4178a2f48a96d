"""EASE: the shared suite, the closed form against an independent numpy solve, its optimality conditions,
and the refusal of catalogs too large for dense items x items matrices."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp
from tests.models.suite import ModelSuite, ncf_accuracy

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError
from shoprec.models.ease import EASE


class TestEASE(ModelSuite):
    model_name = "ease"
    params: ClassVar[dict[str, Any]] = {"reg": 5.0}


def random_dataset(rng: np.random.Generator, n_users: int = 25, n_items: int = 12) -> Dataset:
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.35)
    return Dataset(
        "random",
        Interactions.build(users, items),
        Vocabulary(np.arange(n_users).astype(str)),
        Vocabulary(np.arange(n_items).astype(str)),
    )


def test_weights_match_an_independent_float64_solve(rng: np.random.Generator) -> None:
    data = random_dataset(rng)
    x = data.to_csr().toarray().astype(np.float64)
    lam = 3.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    expected = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    model = EASE(reg=lam).fit(data)
    np.testing.assert_allclose(model.weights_.numpy(), expected, atol=1e-6)
    users = np.arange(5)
    np.testing.assert_allclose(model.score(users, np.arange(12)), x[users] @ expected, atol=1e-5)


def test_weights_satisfy_the_constrained_least_squares_optimality(rng: np.random.Generator) -> None:
    """B minimises ‖X − XB‖² + λ‖B‖² with diag(B) = 0: the gradient (G + λI)B − G is zero off the diagonal."""
    data = random_dataset(rng)
    x = data.to_csr().toarray().astype(np.float64)
    b = EASE(reg=2.0).fit(data).weights_.numpy().astype(np.float64)
    assert np.all(np.diag(b) == 0.0)
    gram = x.T @ x
    gradient = (gram + 2.0 * np.eye(len(gram))) @ b - gram
    off_diagonal = ~np.eye(len(gram), dtype=bool)
    np.testing.assert_allclose(gradient[off_diagonal], 0.0, atol=1e-4)


def test_float32_and_float64_agree_on_small_data(rng: np.random.Generator) -> None:
    data = random_dataset(rng)
    single = EASE(reg=10.0, dtype="float32").fit(data).weights_.numpy()
    double = EASE(reg=10.0, dtype="float64").fit(data).weights_.numpy()
    np.testing.assert_allclose(single, double, atol=1e-4)


def test_too_large_catalog_is_refused_by_name(rng: np.random.Generator) -> None:
    data = random_dataset(rng, n_items=12)
    with pytest.raises(ConfigError, match=r"max_items is 10 but the catalog has 12 items"):
        EASE(max_items=10).fit(data)
    assert EASE(max_items=12).fit(data).weights_.shape == (12, 12)


@pytest.mark.parametrize(("param", "value"), [("reg", 0.0), ("dtype", "float16"), ("max_items", 0)])
def test_invalid_config_names_the_parameter(param: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"EASEConfig\.{param}"):
        EASE(**{param: value})


def test_repeated_events_count_once(rng: np.random.Generator) -> None:
    """Event weights do not change EASE: it models the binary history (repeat events count once)."""
    data = random_dataset(rng)
    inter = data.interactions
    doubled = data.with_interactions(Interactions.concat([inter, inter]))
    a, b = EASE(reg=4.0).fit(data), EASE(reg=4.0).fit(doubled)
    np.testing.assert_allclose(a.weights_.numpy(), b.weights_.numpy(), atol=1e-6)
    assert sp.issparse(b.seen_) and b.seen_.data.max() == 1.0


@pytest.mark.realdata
def test_ncf_ml1m_accuracy(real_data_dir: Path) -> None:
    """Measured 0.7096 / 0.4495 (reg 500); NCF reports 0.730 / 0.447 for its pre-trained NeuMF."""
    hr, ndcg = ncf_accuracy(EASE(), real_data_dir)
    assert hr >= 0.70 and ndcg >= 0.445, f"HR@10 {hr:.4f}, NDCG@10 {ndcg:.4f}"
