"""Properties every step keeps on random batches: a subset of each input row, no duplicates, padding last."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.rerank import MMR, BusinessRules, CategoryCap, LongTailBoost, RerankContext, Reranker

N_ITEMS = 30


@st.composite
def batches(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, RerankContext]:
    """(items, scores, ctx): rows of distinct items best first with a random amount of -1 padding."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    b, k = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    items = np.full((b, k), -1, dtype=np.int64)
    scores = np.full((b, k), -np.inf, dtype=np.float32)
    for row in range(b):
        length = draw(st.integers(0, k))
        items[row, :length] = rng.permutation(N_ITEMS)[:length]
        scores[row, :length] = -np.sort(-rng.integers(0, 5, length)).astype(np.float32)  # ties on purpose
    vectors = rng.standard_normal((N_ITEMS, 3)).astype(np.float32) if draw(st.booleans()) else None
    ctx = RerankContext(vectors, rng.integers(0, 50, N_ITEMS), rng.integers(-1, 4, N_ITEMS))
    return items, scores, ctx


def check_row_invariants(items_in: np.ndarray, items_out: np.ndarray, scores_out: np.ndarray) -> None:
    for before, after, scores in zip(items_in, items_out, scores_out, strict=True):
        valid = after >= 0
        kept = after[valid]
        assert len(np.unique(kept)) == len(kept), "duplicates"
        assert set(kept) <= set(before[before >= 0]), "items not in the input row"
        assert not np.any(valid[1:] & ~valid[:-1]), "padding must be at the end"
        assert np.isfinite(scores[valid]).all() and np.isneginf(scores[~valid]).all()


steps = st.one_of(
    st.builds(MMR, st.floats(0, 1), st.none() | st.integers(1, 15)),
    st.builds(CategoryCap, st.integers(1, 3)),
    st.builds(LongTailBoost, st.floats(0, 2)),
    st.builds(BusinessRules, st.lists(st.integers(0, N_ITEMS - 1), max_size=8).map(np.array)),
)


@settings(max_examples=60, deadline=None)
@given(batches(), steps)
def test_every_step_returns_a_subset_without_duplicates(batch: tuple, step: object) -> None:
    items, scores, ctx = batch
    out_items, out_scores = step(items, scores, ctx)  # type: ignore[operator]
    check_row_invariants(items, out_items, out_scores)
    kept = (out_items >= 0).sum(axis=1)
    given_ = (items >= 0).sum(axis=1)
    if isinstance(step, MMR):  # a permutation of the first n
        assert (kept == np.minimum(given_, step.n or items.shape[1])).all()
    if isinstance(step, LongTailBoost):
        assert (kept == given_).all()
    if isinstance(step, CategoryCap):
        codes = ctx.item_category[out_items]
        for row_codes, row_items in zip(codes, out_items, strict=True):
            known = row_codes[(row_items >= 0) & (row_codes >= 0)]
            assert np.bincount(known, minlength=1).max(initial=0) <= step.max_per_category
    if isinstance(step, BusinessRules):
        assert not np.isin(out_items, step.exclude).any()


@settings(max_examples=40, deadline=None)
@given(batches())
def test_mmr_lambda_one_is_the_identity(batch: tuple) -> None:
    items, scores, ctx = batch
    out_items, out_scores = MMR(1.0)(items, scores, ctx)
    np.testing.assert_array_equal(out_items, items)
    np.testing.assert_array_equal(out_scores, scores)


@settings(max_examples=40, deadline=None)
@given(batches(), st.lists(steps, max_size=4), st.integers(1, 15))
def test_a_chain_returns_n_columns(batch: tuple, chain: list, n: int) -> None:
    items, scores, ctx = batch
    out_items, out_scores = Reranker(chain).apply(items, scores, ctx, n)
    assert out_items.shape == out_scores.shape == (len(items), n)
    check_row_invariants(items, out_items, out_scores)
