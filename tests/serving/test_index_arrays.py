"""Exclusion helpers of the item index (`drop_excluded`, `rows_of`) against naive per-row Python references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.serving.index_arrays import Pairs, drop_excluded, exclusion_pairs, rows_of

SETTINGS = settings(max_examples=100, deadline=None)


def as_pairs(rows: list[int], items: list[int]) -> Pairs:
    return np.array(rows, dtype=np.int64), np.array(items, dtype=np.int64)


@st.composite
def results(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """(b, m) ids best first (distinct per row, rows padded at the end with -1 / -inf), their scores, n."""
    n = draw(st.integers(1, 12))
    b = draw(st.integers(1, 5))
    m = draw(st.integers(1, n + 2))
    ids = np.full((b, m), -1, dtype=np.int64)
    scores = np.full((b, m), -np.inf, dtype=np.float32)
    for r in range(b):
        row = draw(st.permutations(range(n)))[: draw(st.integers(0, min(m, n)))]
        values = draw(st.lists(st.integers(-50, 50), min_size=len(row), max_size=len(row)))  # ties included
        ids[r, : len(row)] = row
        scores[r, : len(row)] = sorted(values, reverse=True)
    return ids, scores, n


@st.composite
def results_and_exclusions(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, Pairs, int]:
    """Results plus at least one (row, item) exclusion pair, unordered, duplicates and absent items allowed."""
    ids, scores, n = draw(results())
    pair = st.tuples(st.integers(0, len(ids) - 1), st.integers(0, n - 1))
    pairs = draw(st.lists(pair, min_size=1, max_size=15))
    return ids, scores, as_pairs(*zip(*pairs, strict=True)), n


def reference_drop(ids: np.ndarray, scores: np.ndarray, pairs: Pairs, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the results whose (row, item) is not excluded, in their order, then -1 / -inf up to width m."""
    excluded = set(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True))
    out_ids = np.full((len(ids), m), -1, dtype=np.int64)
    out_scores = np.full((len(ids), m), -np.inf, dtype=np.float32)
    for r in range(len(ids)):
        kept = [(i, s) for i, s in zip(ids[r], scores[r], strict=True) if i >= 0 and (r, int(i)) not in excluded]
        out_ids[r, : len(kept)] = [i for i, _ in kept]
        out_scores[r, : len(kept)] = [s for _, s in kept]
    return out_ids, out_scores


@SETTINGS
@given(results_and_exclusions())
def test_drop_excluded_matches_the_per_row_reference(case: tuple[np.ndarray, np.ndarray, Pairs, int]) -> None:
    ids, scores, pairs, n = case
    before = ids.copy(), scores.copy()
    got_ids, got_scores = drop_excluded(ids, scores, pairs, n)
    want_ids, want_scores = reference_drop(ids, scores, pairs, ids.shape[1])
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_array_equal(got_scores, want_scores)
    assert got_ids.dtype == np.int64 and got_scores.dtype == np.float32
    np.testing.assert_array_equal(ids, before[0])  # the caller's arrays are left alone
    np.testing.assert_array_equal(scores, before[1])


@SETTINGS
@given(results(), st.data())
def test_drop_excluded_keeps_results_when_no_excluded_item_is_among_them(
    case: tuple[np.ndarray, np.ndarray, int], data: st.DataObject
) -> None:
    """Exclusions of items a row does not hold (or of other rows, or matching only its -1 padding) change
    nothing."""
    ids, scores, n = case
    candidates = [(r, i) for r in range(len(ids)) for i in range(n) if i not in ids[r]]
    if not candidates:  # every row holds every item: exclude nothing through a row past the results
        candidates = [(len(ids), 0)]
    pairs = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=10))
    got_ids, got_scores = drop_excluded(ids, scores, as_pairs(*zip(*pairs, strict=True)), n)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got_scores, scores)


def test_drop_excluded_known_answer() -> None:
    ids = np.array([[4, 2, 7, -1], [1, 0, 3, 5]], dtype=np.int64)
    scores = np.array([[0.9, 0.5, 0.1, -np.inf], [0.8, 0.7, 0.6, 0.2]], dtype=np.float32)
    # row 0 drops 2 (and asks for 5, absent); row 1 drops 1 and 5, the first and the last; 7 is row 0's only
    got_ids, got_scores = drop_excluded(ids, scores, exclusion_pairs([np.array([2, 5]), np.array([5, 1, 1])]), 8)
    np.testing.assert_array_equal(got_ids, [[4, 7, -1, -1], [0, 3, -1, -1]])
    want_scores = np.array([[0.9, 0.1, -np.inf, -np.inf], [0.7, 0.6, -np.inf, -np.inf]], dtype=np.float32)
    np.testing.assert_array_equal(got_scores, want_scores)


def test_drop_excluded_without_any_pair_returns_the_results() -> None:
    ids = np.array([[1, 2]], dtype=np.int64)
    scores = np.array([[0.5, 0.25]], dtype=np.float32)
    got_ids, got_scores = drop_excluded(ids, scores, exclusion_pairs(None), 3)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got_scores, scores)


def reference_rows_of(pairs: Pairs, rows: np.ndarray) -> Pairs:
    position = {int(row): i for i, row in enumerate(rows)}
    kept = [(position[r], i) for r, i in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True) if r in position]
    return as_pairs([r for r, _ in kept], [i for _, i in kept])


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 20)), max_size=15),
    st.sets(st.integers(0, 11)),  # rows up to 11: past the largest row any pair can name
)
def test_rows_of_matches_the_reference(pairs: list[tuple[int, int]], rows: set[int]) -> None:
    split = as_pairs([r for r, _ in pairs], [i for _, i in pairs])
    selected = np.array(sorted(rows), dtype=np.int64)
    got_rows, got_items = rows_of(split, selected)
    want_rows, want_items = reference_rows_of(split, selected)
    np.testing.assert_array_equal(got_rows, want_rows)
    np.testing.assert_array_equal(got_items, want_items)
    assert got_rows.dtype == np.int64 and got_items.dtype == np.int64


def test_rows_of_known_answer() -> None:
    pairs = exclusion_pairs([np.array([10, 11]), np.array([], dtype=np.int64), np.array([12]), np.array([13, 14])])
    got_rows, got_items = rows_of(pairs, np.array([0, 3, 9]))  # row 9 is past every pair's row
    np.testing.assert_array_equal(got_rows, [0, 0, 1, 1])
    np.testing.assert_array_equal(got_items, [10, 11, 13, 14])
    empty_rows, empty_items = rows_of(exclusion_pairs(None), np.array([0, 1, 2]))
    assert len(empty_rows) == len(empty_items) == 0
