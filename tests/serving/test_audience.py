"""Audiences: a hand-computed case, a brute-force numpy reference under hypothesis (sizes, chunks, ties,
exclusions, min_score monotonicity) and the target vector."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.exceptions import ConfigError, DataError
from shoprec.serving.audience import audience, target_vector


def brute_force(
    vectors: np.ndarray, target: np.ndarray, size: int, min_score: float | None, excluded: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Score everyone at once, drop ineligible users, sort by (score desc, user asc)."""
    scores = vectors.astype(np.float32) @ target.astype(np.float32)
    eligible = np.ones(len(vectors), bool)
    eligible[excluded] = False
    eligible &= np.abs(vectors).sum(axis=1) > 0
    if min_score is not None:
        eligible &= scores >= min_score
    users = np.flatnonzero(eligible)
    ranked = sorted(users.tolist(), key=lambda u: (-scores[u], u))[:size]
    return np.array(ranked, dtype=np.int64), scores[ranked]


def test_hand_computed_audience() -> None:
    vectors = np.array([[1, 0], [0, 1], [2, 0], [0, 0], [1, 1], [-1, 0]], dtype=np.float32)
    target = np.array([1.0, 0.5])
    users, scores = audience(vectors, target, 3)
    np.testing.assert_array_equal(users, [2, 4, 0])  # scores 2, 1.5, 1 (then 0.5, -1; user 3 has no vector)
    np.testing.assert_allclose(scores, [2.0, 1.5, 1.0])
    users, _ = audience(vectors, target, 10, excluded=np.array([2, 4]), min_score=0.5)
    np.testing.assert_array_equal(users, [0, 1])
    users, _ = audience(vectors, target, 10)
    assert 3 not in users.tolist() and users.tolist()[-1] == 5  # zero rows never picked, negatives last


def test_ties_break_by_user_index_whatever_the_chunking() -> None:
    vectors = np.tile(np.array([[1.0, 2.0]], np.float32), (50, 1))
    for chunk in (1, 7, 50, 1000):
        users, scores = audience(vectors, np.array([1.0, 1.0]), 5, chunk=chunk)
        np.testing.assert_array_equal(users, [0, 1, 2, 3, 4])
        np.testing.assert_allclose(scores, 3.0)


vectors_strategy = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.integers(-3, 3), min_size=n * 3, max_size=n * 3),  # small ints: exact float ties happen
    )
)


@settings(max_examples=60, deadline=None)
@given(
    data=vectors_strategy,
    target=st.lists(st.integers(-2, 2), min_size=3, max_size=3),
    size=st.integers(1, 70),
    chunk=st.integers(1, 25),
    min_score=st.one_of(st.none(), st.integers(-6, 6)),
    excluded=st.lists(st.integers(0, 59), max_size=10),
)
def test_matches_brute_force(
    data: tuple[int, list[int]], target: list[int], size: int, chunk: int, min_score: int | None, excluded: list[int]
) -> None:
    n, values = data
    vectors = np.array(values, dtype=np.float32).reshape(n, 3)
    t = np.array(target, dtype=np.float32)
    ex = np.array([e for e in excluded if e < n], dtype=np.int64)
    users, scores = audience(vectors, t, size, min_score=min_score, excluded=ex, chunk=chunk)
    ref_users, ref_scores = brute_force(vectors, t, size, min_score, ex)
    np.testing.assert_array_equal(users, ref_users)
    np.testing.assert_allclose(scores, ref_scores)
    assert len(users) == min(size, len(brute_force(vectors, t, n, min_score, ex)[0]))
    assert not set(users.tolist()) & set(ex.tolist())


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), low=st.floats(-2, 2), step=st.floats(0, 2), size=st.integers(1, 40))
def test_raising_min_score_keeps_a_prefix(seed: int, low: float, step: float, size: int) -> None:
    """A higher threshold only removes users from the end of the list: the rest keep their order."""
    rng = np.random.default_rng(seed)
    vectors, target = rng.standard_normal((80, 4)).astype(np.float32), rng.standard_normal(4)
    loose, _ = audience(vectors, target, size, min_score=low, chunk=16)
    strict, scores = audience(vectors, target, size, min_score=low + step, chunk=16)
    np.testing.assert_array_equal(strict, loose[: len(strict)])
    assert (scores >= np.float32(low + step)).all()


def test_target_vector_is_the_mean_of_the_items() -> None:
    items = np.array([[1, 0], [0, 2], [3, 4]], dtype=np.float32)
    np.testing.assert_allclose(target_vector(items, np.array([0, 2])), [2.0, 2.0])
    np.testing.assert_allclose(target_vector(items, np.array(1)), [0.0, 2.0])
    with pytest.raises(ConfigError, match="items"):
        target_vector(items, np.array([], dtype=np.int64))
    with pytest.raises(DataError, match="out of range"):
        target_vector(items, np.array([3]))


def test_bad_arguments_name_the_parameter() -> None:
    vectors = np.ones((4, 2), np.float32)
    with pytest.raises(ConfigError, match="size"):
        audience(vectors, np.ones(2), 0)
    with pytest.raises(ConfigError, match="chunk"):
        audience(vectors, np.ones(2), 2, chunk=0)
    with pytest.raises(DataError, match="expected"):
        audience(vectors, np.ones(3), 2)
