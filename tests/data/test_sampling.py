"""Negative sampling: never a positive, the right distribution, every path (bitmap, searchsorted, exact fallback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.data import sampling
from shoprec.data.dataset import Dataset
from shoprec.data.sampling import DiscreteTable, NegativeSampler, sample_eval_negatives
from shoprec.data.split import leave_one_out
from shoprec.exceptions import ConfigError, DataError


def matrix(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    """Users' positive item lists as a CSR matrix (repeats allowed: they are merged)."""
    users = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    items = np.array([i for r in rows for i in r], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(items)), (users, items)), shape=(len(rows), n_items))


def negatives_of(positives: sp.csr_matrix, user: int) -> np.ndarray:
    return np.setdiff1d(np.arange(positives.shape[1]), positives[user].indices)


def assert_frequencies(draws: np.ndarray, expected: np.ndarray, sigmas: float = 5.0) -> None:
    """Counts of each value within `sigmas` binomial standard deviations of n * expected probability."""
    n = draws.size
    counts = np.bincount(draws.ravel(), minlength=len(expected))
    sd = np.sqrt(n * expected * (1 - expected))
    assert (np.abs(counts - n * expected) <= sigmas * sd + 1e-9).all(), (counts, n * expected)


POSITIVES = matrix([[0, 1, 2], [5], [0, 1, 2, 3, 4, 6, 7, 8, 9], []], n_items=10)  # user 2 has one negative: 5


@pytest.mark.parametrize("max_rounds", [0, 1, 8])
@pytest.mark.parametrize("bitmap", [True, False])
def test_uniform_negatives_exclude_positives_and_are_uniform(
    max_rounds: int, bitmap: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not bitmap:
        monkeypatch.setattr(sampling, "BITMAP_BUDGET_BYTES", 0)
    sampler = NegativeSampler(POSITIVES, seed=1, max_rounds=max_rounds)
    assert (sampler._bitmap is not None) == bitmap
    for user in range(4):
        draws = sampler.sample(np.full(4000, user), 5)
        assert draws.shape == (4000, 5) and draws.dtype == np.int64
        allowed = negatives_of(POSITIVES, user)
        assert np.isin(draws, allowed).all()
        assert_frequencies(draws, np.isin(np.arange(10), allowed) / len(allowed))


def test_bitmap_and_searchsorted_membership_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    positives = sp.random(50, 40, density=0.3, format="csr", random_state=rng)
    users = rng.integers(0, 50, 500)
    with_bitmap = NegativeSampler(positives, seed=3).sample(users, 7)
    monkeypatch.setattr(sampling, "BITMAP_BUDGET_BYTES", 0)
    assert np.array_equal(NegativeSampler(positives, seed=3).sample(users, 7), with_bitmap)


def test_popularity_negatives_follow_counts_to_the_alpha() -> None:
    # Item popularity (number of users): item 0 -> 4, items 1, 2, 3 -> 2 each, item 4 -> 0.
    positives = matrix([[0, 1], [0, 1, 2], [0], [0, 3], [2, 3]], n_items=5)
    sampler = NegativeSampler(positives, distribution="popularity", alpha=0.5, seed=0, max_rounds=60)
    draws = sampler.sample(np.full(40_000, 4), 1)  # user 4 may get items 0 and 1 (item 4 was never seen)
    weights = np.array([4**0.5, 2**0.5, 0, 0, 0])
    assert_frequencies(draws, weights / weights.sum())
    # With no redraw rounds, a rejected first draw (items 2 or 3) is replaced by a uniform negative (0, 1 or 4).
    fallback = NegativeSampler(positives, distribution="popularity", seed=0, max_rounds=0).sample(np.full(9000, 4), 1)
    first = np.array([4, 2, 2, 2, 0]) ** 0.75 / (4**0.75 + 3 * 2**0.75)
    rejected = first[2] + first[3]
    assert_frequencies(fallback, np.array([first[0], first[1], 0, 0, 0]) + rejected * np.array([1, 1, 0, 0, 1]) / 3)


def test_a_user_with_one_negative_always_gets_it() -> None:
    sampler = NegativeSampler(POSITIVES, distribution="popularity", seed=0, max_rounds=2)
    assert (sampler.sample(np.array([2, 2, 2]), 50) == 5).all()


def test_torch_in_torch_out_and_seeds() -> None:
    out = NegativeSampler(POSITIVES, seed=4).sample(torch.tensor([0, 1, 3]), 6)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.int64 and out.shape == (3, 6)
    again = NegativeSampler(POSITIVES, seed=4).sample(np.array([0, 1, 3]), 6)
    assert np.array_equal(out.numpy(), again)
    sampler = NegativeSampler(POSITIVES, seed=4)
    assert not np.array_equal(sampler.sample(np.zeros(100, dtype=np.int64), 3), sampler.sample(np.zeros(100), 3))


def test_errors_name_the_problem() -> None:
    with pytest.raises(DataError, match="user index 0 has 0 non-positive items of 2"):
        NegativeSampler(matrix([[0, 1]], 2)).sample(np.array([0]), 1)
    with pytest.raises(DataError, match=r"out of range 0\.\.3"):
        NegativeSampler(POSITIVES).sample(np.array([4]), 1)
    with pytest.raises(DataError, match="fewer than the 3 needed"):
        NegativeSampler(POSITIVES).sample_distinct(np.array([2]), 3)
    with pytest.raises(ConfigError, match="distribution"):
        NegativeSampler(POSITIVES, distribution="zipf")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="k must be >= 0"):
        NegativeSampler(POSITIVES).sample(np.array([0]), -1)
    with pytest.raises(DataError, match="no item has any positive"):
        NegativeSampler(sp.csr_matrix((2, 3)), distribution="popularity")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(0, 19), max_size=19), min_size=1, max_size=6),
    k=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_sample_distinct_gives_distinct_sorted_negatives(rows: list[list[int]], k: int, seed: int) -> None:
    positives = matrix(rows, 20)
    users = np.flatnonzero(20 - np.diff(positives.indptr) >= k)
    out = NegativeSampler(positives, seed=seed).sample_distinct(np.repeat(users, 3), k)
    for user, row in zip(np.repeat(users, 3), out, strict=True):
        assert np.isin(row, negatives_of(positives, user)).all()
        assert (np.diff(row) > 0).all()


def test_sample_distinct_with_k_equal_to_all_negatives_returns_them_all() -> None:
    sampler = NegativeSampler(POSITIVES, seed=0)
    assert sampler.sample_distinct(np.array([0, 0]), 7).tolist() == [[3, 4, 5, 6, 7, 8, 9]] * 2
    assert sampler.sample_distinct(np.array([2]), 1).tolist() == [[5]]
    assert sampler.sample_distinct(np.arange(4), 1).shape == (4, 1)


@pytest.mark.parametrize("k", [3, 30])  # 3: redrawing duplicates (>= 2k negatives); 30: a permutation
def test_sample_distinct_is_uniform(k: int) -> None:
    positives = matrix([list(range(0, 100, 2))], 100)  # the 50 odd items are the negatives
    draws = NegativeSampler(positives, seed=5).sample_distinct(np.zeros(4000, dtype=np.int64), k)
    assert_frequencies(draws, (np.arange(100) % 2) / 50)


def test_discrete_table_is_exact_for_awkward_weights() -> None:
    # Tiny weights land entirely in the residual part, zero weights never come up.
    weights = np.array([1.0, 1e-7, 0.0, 3.0, 2.5e-7, 0.0, 0.5])
    table = DiscreteTable(weights)
    draws = table.draw(np.random.default_rng(0), 2_000_000)
    assert not np.isin(draws, [2, 5]).any()
    assert_frequencies(draws, weights / weights.sum())


def test_discrete_table_residual_part_is_uniform_over_its_mass() -> None:
    # 2^18 items -> a table of 2^21 slots; each small item is worth half a slot, so all of them (1/16 of
    # the mass) are drawn through the residual searchsorted. Their draws must spread evenly over them.
    n = 1 << 18
    weights = np.ones(n)
    weights[0] = 15 * n
    draws = DiscreteTable(weights).draw(np.random.default_rng(1), 2_000_000)
    group = np.where(draws == 0, 0, 1 + (draws - 1) * 8 // (n - 1))
    small = (n - 1) / weights.sum()
    assert_frequencies(group, np.array([1 - small] + [small / 8] * 8))


def test_discrete_table_rejects_bad_weights() -> None:
    with pytest.raises(ConfigError, match="weights"):
        DiscreteTable(np.array([1.0, -1.0]))
    with pytest.raises(ConfigError, match="weights"):
        DiscreteTable(np.zeros(3))


def test_sample_eval_negatives_excludes_every_known_positive(block_dataset: Dataset) -> None:
    split = leave_one_out(block_dataset)
    sampled = sample_eval_negatives(split, n=5, seed=2)
    assert sampled.protocol == "sampled" and sampled.method == "loo" and sampled.train is split.train
    assert np.array_equal(sampled.test_negative_users, np.unique(split.test.interactions.users))
    assert sampled.test_negatives.shape == (len(sampled.test_negative_users), 5)
    known = block_dataset.to_csr(values="ones")
    for user, row in zip(sampled.test_negative_users, sampled.test_negatives, strict=True):
        assert len(set(row.tolist())) == 5
        assert known[user, row].nnz == 0  # nothing from train, valid or test
    again = sample_eval_negatives(split, n=5, seed=2)
    assert np.array_equal(again.test_negatives, sampled.test_negatives)
    with pytest.raises(ConfigError, match="n must be > 0"):
        sample_eval_negatives(split, n=0)


@pytest.mark.realdata
def test_ml1m_negatives_are_never_rated(real_data_dir: Path) -> None:
    frame = pl.read_csv(real_data_dir / "ml-1m" / "ratings-no-timestamps.csv")
    users = np.unique(frame["user_id"].to_numpy(), return_inverse=True)[1]
    items = np.unique(frame["movie_id"].to_numpy(), return_inverse=True)[1]
    positives = sp.csr_matrix((np.ones(len(users)), (users, items)))
    assert positives.shape == (6040, 3706) and positives.nnz == 1_000_209
    for distribution in ("uniform", "popularity"):
        draws = NegativeSampler(positives, distribution=distribution, seed=0).sample(users, 1)  # type: ignore[arg-type]
        assert positives[users, draws[:, 0]].A1.sum() == 0
    candidates = NegativeSampler(positives, seed=0).sample_distinct(np.arange(6040), 99)
    assert positives[np.repeat(np.arange(6040), 99), candidates.ravel()].A1.sum() == 0
