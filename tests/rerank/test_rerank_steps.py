"""Each re-ranking step on tiny batches whose right answers are worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.features import CategoricalColumn, FeatureTable, MultiValuedColumn
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError
from shoprec.rerank import (
    MMR,
    BusinessRules,
    CategoryCap,
    LongTailBoost,
    RerankContext,
    Reranker,
    build_steps,
)
from shoprec.rerank.mmr import candidate_features, similarity_to

INF = np.inf
# item 0 and 1 point the same way, 2 is orthogonal to both, 3 sits half-way between 0 and 2
VECTORS = np.array([[1, 0], [1, 0.01], [0, 1], [0.7, 0.7]], dtype=np.float32)
POPULARITY = np.array([10, 5, 1, 0])
CATEGORY = np.array([0, 0, 1, -1])
ITEMS = np.array([[0, 1, 2, 3], [3, 2, -1, -1]])
SCORES = np.array([[4, 3, 2, 1], [2, 1, -INF, -INF]], dtype=np.float32)


@pytest.fixture
def ctx() -> RerankContext:
    return RerankContext(VECTORS, POPULARITY, CATEGORY, item_brand=np.array([5, 6, 5, 6]))


def test_mmr_picks_the_hand_computed_order(ctx: RerankContext) -> None:
    # relevance (min-max) = [1, 2/3, 1/3, 0]. Pick 0. Then 1: 0.5*2/3 - 0.5*~1 = -0.17, 2: 0.5*1/3 - 0 = 0.17,
    # 3: 0 - 0.5*0.71 = -0.35 -> 2. Then 1: -0.17 (still ~1 from item 0), 3: -0.35 -> 1, then 3.
    items, scores = MMR(0.5)(ITEMS, SCORES, ctx)
    np.testing.assert_array_equal(items, [[0, 2, 1, 3], [3, 2, -1, -1]])
    np.testing.assert_array_equal(scores, [[4, 2, 3, 1], [2, 1, -INF, -INF]])  # the model's scores travel along


def test_mmr_lambda_one_keeps_the_input_order_and_n_cuts(ctx: RerankContext) -> None:
    items, scores = MMR(1.0)(ITEMS, SCORES, ctx)
    np.testing.assert_array_equal(items, ITEMS)
    np.testing.assert_array_equal(scores, SCORES)
    items, _ = MMR(0.5, n=2)(ITEMS, SCORES, ctx)
    np.testing.assert_array_equal(items, [[0, 2], [3, 2]])


def test_mmr_lambda_zero_minimises_similarity(ctx: RerankContext) -> None:
    # first pick: all objectives are 0, ties go to the best ranked item 0; then the item least like 0 is 2
    # (cos 0); then 3 (max(0.71, 0.71)) beats 1 (max(~1, 0.01)); then 1
    items, _ = MMR(0.0)(ITEMS, SCORES, ctx)
    np.testing.assert_array_equal(items[0], [0, 2, 3, 1])


def test_mmr_without_vectors_compares_categories() -> None:
    ctx = RerankContext(None, POPULARITY, CATEGORY)
    features = candidate_features(ITEMS[:1], ctx)
    similarity = [similarity_to(features, np.array([0]), np.array([j]))[0] for j in range(4)]
    np.testing.assert_array_equal(similarity, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    # relevance [1, 2/3, 1/3, 0], lambda 0.5, after item 0: item 1 (same category) 1/3 - 1/2 = -0.17,
    # item 2 1/6 = 0.17, item 3 (unknown category, similar to nothing) 0 -> 2, then 3 beats 1
    items, _ = MMR(0.5)(ITEMS, SCORES, ctx)
    np.testing.assert_array_equal(items[0], [0, 2, 3, 1])
    with pytest.raises(ConfigError, match="item_vectors"):
        MMR(0.5)(ITEMS, SCORES, RerankContext(None, POPULARITY))


def test_mmr_rejects_bad_knobs() -> None:
    with pytest.raises(ConfigError, match="lambda"):
        MMR(1.5)
    with pytest.raises(ConfigError, match="n must be"):
        MMR(0.5, n=0)


def reference_mmr(relevance: dict[int, float], unit: np.ndarray, lambda_: float, n: int) -> list[int]:
    """Textbook greedy MMR, one item at a time in plain Python (candidates in input order)."""
    candidates, chosen = list(relevance), []
    while candidates and len(chosen) < n:
        gains = [
            lambda_ * relevance[i] - (1 - lambda_) * max((float(unit[i] @ unit[j]) for j in chosen), default=0.0)
            for i in candidates
        ]
        chosen.append(candidates.pop(int(np.argmax(gains))))  # argmax keeps the first of equals
    return chosen


def test_mmr_matches_a_plain_python_reference(rng: np.random.Generator) -> None:
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    ctx = RerankContext(vectors, np.ones(50))
    items = np.stack([rng.permutation(50)[:12] for _ in range(30)])
    scores = -np.sort(-rng.random((30, 12)), axis=1).astype(np.float32)
    items[5, 9:], scores[5, 9:] = -1, -INF
    got, _ = MMR(0.7, n=6)(items, scores, ctx)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for row in range(30):
        valid = items[row] >= 0
        s = scores[row][valid].astype(np.float64)
        relevance = dict(zip(items[row][valid].tolist(), (s - s.min()) / (s.max() - s.min()), strict=True))
        np.testing.assert_array_equal(got[row], reference_mmr(relevance, unit, 0.7, 6))


def test_category_cap_keeps_the_best_per_category(ctx: RerankContext) -> None:
    # categories of row 0: [0, 0, 1, unknown] -> the second item of category 0 goes, the rest move up
    items, scores = CategoryCap(1)(ITEMS, SCORES, ctx)
    np.testing.assert_array_equal(items, [[0, 2, 3, -1], [3, 2, -1, -1]])
    np.testing.assert_array_equal(scores, [[4, 2, 1, -INF], [2, 1, -INF, -INF]])
    np.testing.assert_array_equal(CategoryCap(2)(ITEMS, SCORES, ctx)[0], ITEMS)
    # brands of row 0: [5, 6, 5, 6] -> one of each
    np.testing.assert_array_equal(CategoryCap(1, field="brand")(ITEMS, SCORES, ctx)[0][0], [0, 1, -1, -1])


def test_category_cap_on_longer_rows() -> None:
    ctx = RerankContext(None, np.zeros(8), np.array([0, 1, 0, 0, 1, 2, 0, 1]))
    items = np.array([[0, 1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1, 0]])
    got, _ = CategoryCap(2)(items, np.zeros((2, 8), np.float32), ctx)
    # row 0 categories 0 1 0 0 1 2 0 1: the third 0 (item 3), fourth 0 (6) and third 1 (7) go
    # row 1 categories 1 0 2 1 0 0 1 0: the third 0 (item 2), third 1 (1) and fourth 0 (0) go
    np.testing.assert_array_equal(got, [[0, 1, 2, 4, 5, -1, -1, -1], [7, 6, 5, 4, 3, -1, -1, -1]])


def test_category_cap_needs_the_field() -> None:
    with pytest.raises(ConfigError, match="item_brand"):
        CategoryCap(1, field="brand")(ITEMS, SCORES, RerankContext(None, POPULARITY, CATEGORY))
    with pytest.raises(ConfigError, match="max_per_category"):
        CategoryCap(0)


def test_long_tail_boost_lifts_unpopular_items(ctx: RerankContext) -> None:
    # row 0 spread 3; penalty = log1p(pop) / log1p(10) = [1, 0.747, 0.289, 0]; scores - 3 * penalty =
    # [1, 0.758, 1.133, 1] -> 2, then 0 and 3 tie (0 keeps its place), then 1
    items, scores = LongTailBoost(1.0)(ITEMS, SCORES, ctx)
    np.testing.assert_array_equal(items, [[2, 0, 3, 1], [3, 2, -1, -1]])
    expected = 2 - 3 * np.log1p(1) / np.log1p(10)
    np.testing.assert_allclose(scores[0, 0], expected, rtol=1e-6)
    assert scores[1, 0] == 2  # popularity 0: no penalty
    assert LongTailBoost(0.0)(ITEMS, SCORES, ctx) == (ITEMS, SCORES)


def test_long_tail_weight_moves_exposure_monotonically(rng: np.random.Generator) -> None:
    popularity = rng.integers(0, 1000, 200)
    ctx = RerankContext(None, popularity)
    items = np.stack([rng.permutation(200)[:30] for _ in range(50)])
    scores = -np.sort(-rng.random((50, 30)), axis=1).astype(np.float32)
    mean_pop = [popularity[LongTailBoost(w)(items, scores, ctx)[0][:, :10]].mean() for w in (0, 0.2, 0.5, 1.0)]
    assert mean_pop == sorted(mean_pop, reverse=True) and mean_pop[-1] < mean_pop[0]


def test_business_rules_exclude_and_boost(ctx: RerankContext) -> None:
    items, scores = BusinessRules(np.array([1]), {3: 10.0, 2: -0.5})(ITEMS, SCORES, ctx)
    # row 0: 1 dropped; 3 -> 11, 2 -> 1.5: [3, 0, 2]; row 1: 3 -> 12, 2 -> 0.5
    np.testing.assert_array_equal(items, [[3, 0, 2, -1], [3, 2, -1, -1]])
    np.testing.assert_array_equal(scores, [[11, 4, 1.5, -INF], [12, 0.5, -INF, -INF]])
    mask = np.array([True, False, False, True])
    np.testing.assert_array_equal(BusinessRules(mask)(ITEMS, SCORES, ctx)[0], [[1, 2, -1, -1], [2, -1, -1, -1]])
    with pytest.raises(ConfigError, match="boost"):
        BusinessRules(boost={-1: 1.0})


def test_reranker_chains_steps_and_fits_n(ctx: RerankContext) -> None:
    reranker = Reranker([BusinessRules(np.array([1])), MMR(1.0)])
    items, scores = reranker.apply(ITEMS, SCORES, ctx, n=6)
    np.testing.assert_array_equal(items, [[0, 2, 3, -1, -1, -1], [3, 2, -1, -1, -1, -1]])
    assert scores.shape == (2, 6) and scores.dtype == np.float32 and np.isneginf(scores[items < 0]).all()
    items, _ = Reranker([]).apply(ITEMS, SCORES, ctx, n=2)
    np.testing.assert_array_equal(items, ITEMS[:, :2])
    with pytest.raises(ConfigError, match="item indices"):
        Reranker([]).apply(np.array([[7]]), np.zeros((1, 1)), ctx, n=1)
    with pytest.raises(ConfigError, match="n must be"):
        Reranker([]).apply(ITEMS, SCORES, ctx, n=0)


def test_build_steps_from_config() -> None:
    steps = build_steps(
        [
            {"step": "business_rules", "exclude": [4], "boost": {"2": 0.5}},
            {"step": "long_tail", "weight": 0.3},
            {"step": "category_cap", "max_per": 2, "field": "brand"},
            {"step": "mmr", "lambda": 0.7},
        ]
    )
    assert steps[1:] == [LongTailBoost(0.3), CategoryCap(2, "brand"), MMR(0.7)]
    assert isinstance(steps[0], BusinessRules) and steps[0].boost == {2: 0.5}
    with pytest.raises(ConfigError, match=r"rerank\[0\].step"):
        build_steps([{"step": "shuffle"}])
    with pytest.raises(ConfigError, match=r"rerank\[0\]: mmr needs the key 'lambda'"):
        build_steps([{"step": "mmr"}])
    with pytest.raises(ConfigError, match="unknown key"):
        build_steps([{"step": "long_tail", "weight": 0.1, "wieght": 0.2}])
    with pytest.raises(ConfigError, match=r"rerank\[0\].*lambda"):
        build_steps([{"step": "mmr", "lambda": 2}])


def test_context_from_dataset_codes() -> None:
    inter = Interactions.build(np.array([0, 0, 1]), np.array([0, 1, 1]))
    features = FeatureTable(
        3,
        {
            "genres": MultiValuedColumn(np.array([0, 2, 2, 3]), np.array([2, 1, 1]), ("a", "b")),
            "brand": CategoricalColumn(np.array([1, 0, 2]), ("x", "y")),
        },
    )
    data = Dataset("t", inter, Vocabulary(np.array(["u0", "u1"])), Vocabulary(np.array(["a", "b", "c"])), features)
    ctx = RerankContext.from_dataset(data, category="genres", brand="brand")
    np.testing.assert_array_equal(ctx.item_popularity, [1, 2, 0])
    np.testing.assert_array_equal(ctx.item_category, [1, -1, 0])  # first listed genre, none for item 1
    np.testing.assert_array_equal(ctx.item_brand, [0, -1, 1])
    with pytest.raises(ConfigError, match="no such item feature"):
        RerankContext.from_dataset(data, category="shelf")
    with pytest.raises(ConfigError, match="item_vectors has 2 rows"):
        RerankContext(np.zeros((2, 3)), np.zeros(3))
