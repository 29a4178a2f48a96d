"""ItemIndex: exact search equals a numpy reference, IVF recall on clustered data, filters and exclusions that
never lose results, upserts that are searchable at once, and input validation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.exceptions import ConfigError
from shoprec.serving.index import EXACT_SUBSET_FACTOR, ItemIndex, default_nlist


def clustered(rng: np.random.Generator, n: int, *, clusters: int = 20, dim: int = 16, noise: float = 0.3):
    """(n, dim) vectors around `clusters` unit centres, and each vector's cluster."""
    centres = rng.standard_normal((clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    member = rng.integers(0, clusters, n)
    vectors = centres[member] + rng.standard_normal((n, dim)) * noise / np.sqrt(dim)
    return vectors.astype(np.float32), member


def assert_same_ranking(ids, ref_ids, ref_scores, vectors, queries):
    """The same items as the reference, except that items whose scores tie within float rounding may swap
    places: batched and one-at-a-time products can differ in the last bits on another CPU or BLAS."""
    differ = ids != ref_ids
    if differ.any():
        rows, cols = np.nonzero(differ)
        assert (ids[rows, cols] >= 0).all() and (ref_ids[rows, cols] >= 0).all(), (ids, ref_ids)
        true = np.einsum("nd,nd->n", vectors[ids[rows, cols]], queries[rows])
        np.testing.assert_allclose(true, ref_scores[rows, cols], rtol=1e-5, atol=1e-6)


def reference(vectors, queries, k, allowed=None, exclude=None):
    """Top-k by a dense score matrix and a full argsort, one query at a time (independent of the index)."""
    ids = np.full((len(queries), k), -1)
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    for r, q in enumerate(queries):
        s = vectors @ q
        ok = np.ones(len(vectors), bool) if allowed is None else allowed.copy()
        if exclude is not None:
            ok[exclude[r]] = False
        order = [i for i in np.argsort(-s, kind="stable") if ok[i]][:k]
        ids[r, : len(order)], scores[r, : len(order)] = order, s[order]
    return ids, scores


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)]))


def test_exact_index_equals_numpy_argsort(rng):
    vectors = rng.standard_normal((500, 16), dtype=np.float32)
    queries = rng.standard_normal((7, 16), dtype=np.float32)
    index = ItemIndex.build(vectors)
    assert (index.kind, index.size, index.dim, index.nlist) == ("exact", 500, 16, None)
    ids, scores = index.search(queries, 10)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ vectors.T, expected, axis=1), rtol=1e-5)
    assert ids.dtype == np.int64 and scores.dtype == np.float32


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 60),
    k=st.integers(1, 12),
    share=st.floats(0.0, 1.0),
    n_excluded=st.integers(0, 8),
)
def test_exact_filtered_search_matches_reference(seed, n, k, share, n_excluded):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, 4), dtype=np.float32)
    queries = rng.standard_normal((3, 4), dtype=np.float32)
    allowed = rng.random(n) < share
    exclude = [rng.integers(0, n, n_excluded) for _ in range(3)]
    index = ItemIndex.build(vectors)
    ids, scores = index.search(queries, k, allowed=allowed, exclude=exclude)
    ref_ids, ref_scores = reference(vectors, queries, k, allowed, exclude)
    assert_same_ranking(ids, ref_ids, ref_scores, vectors, queries)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    for row, excluded in enumerate(exclude):  # the filters hold for every returned item
        got = ids[row][ids[row] >= 0]
        assert allowed[got].all() and not np.isin(got, excluded).any() and len(set(got)) == len(got)


def test_k_larger_than_catalog_pads(rng):
    index = ItemIndex.build(rng.standard_normal((3, 4), dtype=np.float32))
    ids, scores = index.search(rng.standard_normal((2, 4), dtype=np.float32), 5)
    assert (ids[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()
    assert sorted(ids[0, :3]) == [0, 1, 2]
    empty = ItemIndex.build(np.zeros((0, 4)), exact_below=0)  # nothing to cluster: exact
    assert empty.kind == "exact" and (empty.search(np.ones((1, 4)), 2)[0] == -1).all()


@pytest.fixture
def ivf_data(rng):
    vectors, member = clustered(rng, 5000)
    queries, _ = clustered(np.random.default_rng(7), 200)
    return vectors, member, queries


def test_ivf_recall_on_clustered_data_at_defaults(ivf_data):
    vectors, _, queries = ivf_data
    index = ItemIndex.build(vectors, exact_below=1000)
    assert index.kind == "ivf" and index.nlist == default_nlist(5000) == 70
    found, scores = index.search(queries, 10)
    exact, _ = index.exact_search(queries, 10)
    ref_ids, ref_scores = reference(vectors, queries, 10)
    assert_same_ranking(exact, ref_ids, ref_scores, vectors, queries)
    assert recall(found, exact) >= 0.95
    assert (np.diff(scores, axis=1) <= 0).all()  # best first
    np.testing.assert_allclose(scores, np.einsum("bkd,bd->bk", vectors[found], queries), rtol=1e-5)


def test_calibrate_picks_the_smallest_nprobe_reaching_the_target(ivf_data):
    vectors, _, queries = ivf_data
    diffuse, _ = clustered(np.random.default_rng(3), 5000, clusters=500, noise=1.0)
    for data in (vectors, diffuse):
        index = ItemIndex.build(data, exact_below=1000)
        reached = index.calibrate(queries, target_recall=0.95)
        chosen = index.nprobe
        exact = index.exact_search(queries, 10)[0]
        assert reached >= 0.95 and reached == pytest.approx(recall(index.search(queries, 10)[0], exact))
        if chosen > 1:  # half as many lists falls short: the smallest power of two that reaches it
            index.nprobe = chosen // 2
            assert recall(index.search(queries, 10)[0], exact) < 0.95
    assert chosen > 1  # diffuse vectors need more lists than one
    index.calibrate(queries, target_recall=1.0)
    assert recall(index.search(queries, 10)[0], index.exact_search(queries, 10)[0]) == 1.0


def test_calibrate_leaves_an_exact_index_alone_and_checks_the_target(ivf_data):
    vectors, _, queries = ivf_data
    exact = ItemIndex.build(vectors)
    assert exact.calibrate(queries) == 1.0 and exact.nprobe == 16
    with pytest.raises(ConfigError, match="target_recall"):
        ItemIndex.build(vectors, exact_below=1000).calibrate(queries, target_recall=1.5)


@pytest.mark.parametrize("nprobe", [32, 1])  # the allowed-subset path, and faiss plus the exact fallback
def test_ivf_selective_filter_returns_k_allowed_items(ivf_data, rng, nprobe):
    vectors, _, queries = ivf_data
    index = ItemIndex.build(vectors, exact_below=1000, nprobe=nprobe)
    allowed = np.zeros(len(vectors), bool)
    allowed[rng.choice(len(vectors), 50, replace=False)] = True  # 1% of the items
    ids, _ = index.search(queries, 10, allowed=allowed)
    assert (ids >= 0).all() and allowed[ids].all()
    np.testing.assert_array_equal(ids, index.exact_search(queries, 10, allowed=allowed)[0])


def test_ivf_filter_far_from_the_probed_lists_falls_back_to_exact(ivf_data):
    """With one probe, a query's list holds none of a far cluster's items: IVF finds nothing, yet every row
    still gets the exact filtered top 10."""
    vectors, member, queries = ivf_data
    index = ItemIndex.build(vectors, exact_below=1000, nprobe=1)
    far = member == 3
    queries = queries[np.argsort(queries @ vectors[far].mean(axis=0))[:20]]  # the queries least like cluster 3
    assert far.sum() > EXACT_SUBSET_FACTOR * len(vectors) / index.nlist  # goes through faiss, not the subset path
    ids, scores = index.search(queries, 10, allowed=far)
    exact_ids, exact_scores = index.exact_search(queries, 10, allowed=far)
    np.testing.assert_array_equal(ids, exact_ids)
    np.testing.assert_allclose(scores, exact_scores, rtol=1e-5)


def test_ivf_broad_filter_and_exclusions(ivf_data, rng):
    vectors, _, queries = ivf_data
    index = ItemIndex.build(vectors, exact_below=1000)
    allowed = rng.random(len(vectors)) < 0.5
    seen = [index.exact_search(q[None], 5, allowed=allowed)[0][0] for q in queries]  # each query's best 5
    ids, _ = index.search(queries, 10, allowed=allowed, exclude=seen)
    assert (ids >= 0).all() and allowed[ids].all()
    assert not any(np.isin(row, s).any() for row, s in zip(ids, seen, strict=True))
    assert recall(ids, index.exact_search(queries, 10, allowed=allowed, exclude=seen)[0]) >= 0.95


@pytest.mark.parametrize("exact_below", [100_000, 1000])
def test_upsert_new_and_existing_items_searchable_at_once(ivf_data, exact_below):
    vectors, _, queries = ivf_data
    index = ItemIndex.build(vectors, exact_below=exact_below)
    q = queries[:1]
    best = int(index.search(q, 1)[0][0, 0])
    index.upsert(np.array([5000]), 10 * q)  # a new item far better than any other
    assert index.size == 5000 + 1
    assert index.search(q, 1)[0][0, 0] == 5000
    index.upsert(np.array([best, 5001]), np.vstack([-10 * q, 9 * q]))  # replace one, add another
    ids, _ = index.search(q, 10)
    assert ids[0, :2].tolist() == [5000, 5001] and best not in ids
    assert best in index.search(-q, 1)[0][0]  # its new vector is what is found now
    np.testing.assert_allclose(index.vectors(np.array([best])), -10 * q)
    assert index.vectors().shape == (5002, 16) and not index.vectors().flags.writeable


def test_upsert_rejects_gaps_duplicates_and_wrong_shapes(rng):
    index = ItemIndex.build(rng.standard_normal((10, 4), dtype=np.float32))
    with pytest.raises(ConfigError, match="continue the index"):
        index.upsert(np.array([11]), np.ones((1, 4)))
    with pytest.raises(ConfigError, match="distinct"):
        index.upsert(np.array([10, 10]), np.ones((2, 4)))
    with pytest.raises(ConfigError, match="vectors must have shape"):
        index.upsert(np.array([10]), np.ones((1, 5)))
    with pytest.raises(ConfigError, match="2 rows"):
        index.upsert(np.array([10]), np.ones((2, 4)))
    assert index.size == 10


def test_search_validates_its_inputs(rng):
    index = ItemIndex.build(rng.standard_normal((10, 4), dtype=np.float32))
    q = np.ones((2, 4), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"queries must have shape \(rows, 4\)"):
        index.search(np.ones((2, 3)), 5)
    for k in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="k must be an integer >= 1"):
            index.search(q, k)
    with pytest.raises(ConfigError, match="finite"):
        index.search(np.full((1, 4), np.nan), 5)
    with pytest.raises(ConfigError, match="allowed must be a bool array of shape"):
        index.search(q, 5, allowed=np.ones(9, bool))
    with pytest.raises(ConfigError, match="one array per query"):
        index.search(q, 5, exclude=[np.array([1])])
    with pytest.raises(ConfigError, match="exclude must hold item indices"):
        index.search(q, 5, exclude=[np.array([1]), np.array([10])])
    with pytest.raises(ConfigError, match="numeric array"):
        index.search("not a vector", 5)
    with pytest.raises(ConfigError, match="nprobe"):
        ItemIndex.build(np.ones((5, 4)), nprobe=0)
    with pytest.raises(ConfigError, match="ids must be item indices"):
        index.vectors(np.array([10]))


def test_concurrent_searches_and_upserts(rng):
    """Readers never see a half-written index: every search while items are added returns valid rows."""
    vectors, _ = clustered(rng, 2000)
    index = ItemIndex.build(vectors, exact_below=1000)
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(30):
                ids, _ = index.search(vectors[:4], 5)
                assert (ids >= 0).all()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(30):
        index.upsert(np.array([2000 + i]), vectors[i : i + 1])
    for t in threads:
        t.join()
    assert not errors and index.size == 2030
