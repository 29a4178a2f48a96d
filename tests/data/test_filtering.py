"""k-core, compaction, de-duplication and explicit->implicit, on hand-checked tiny logs and a naive reference."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.features import FeatureTable, NumericColumn, categorical, multi_valued
from shoprec.data.filtering import compact, deduplicate, k_core, to_implicit
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError, DataError


def log(users, items, n_users=None, n_items=None, **columns) -> Dataset:
    """A data set over ids u0.. / i0.. from parallel lists."""
    n_users = n_users or max(users, default=-1) + 1
    n_items = n_items or max(items, default=-1) + 1
    return Dataset(
        name="log",
        interactions=Interactions.build(users, items, **columns),
        users=Vocabulary(np.array([f"u{i}" for i in range(n_users)])),
        items=Vocabulary(np.array([f"i{i}" for i in range(n_items)])),
    )


def external_pairs(data: Dataset) -> list[tuple[str, str]]:
    inter = data.interactions
    return list(zip(data.users.external(inter.users).tolist(), data.items.external(inter.items).tolist(), strict=True))


def naive_k_core(pairs: list[tuple[int, int]], user_k: int, item_k: int) -> list[tuple[int, int]]:
    """Reference: remove offending events one sweep at a time until nothing changes (plain Python)."""
    while True:
        users, items = Counter(u for u, _ in pairs), Counter(i for _, i in pairs)
        kept = [(u, i) for u, i in pairs if users[u] >= user_k and items[i] >= item_k]
        if len(kept) == len(pairs):
            return kept
        pairs = kept


def test_compact_drops_empty_rows_and_realigns_features() -> None:
    data = log([0, 0, 2, 3, 3], [0, 3, 3, 1, 4], n_users=5, n_items=6, weights=[1, 2, 3, 4, 5])
    data = Dataset(
        name="log",
        interactions=data.interactions,
        users=data.users,
        items=data.items,
        item_features=FeatureTable(
            6,
            {
                "price": NumericColumn(np.arange(6, dtype=np.float32) * 10),
                "brand": categorical(np.array(["a", "b", "c", "d", "e", "f"], dtype=object)),
                "tags": multi_valued([["x"], [], ["y", "z"], ["x", "y"], ["z"], []]),
            },
        ),
        user_features=FeatureTable(5, {"age": NumericColumn(np.array([20, 21, 22, 23, 24], dtype=np.float32))}),
    )
    out = compact(data)
    assert out.users.to_list() == ["u0", "u2", "u3"]
    assert out.items.to_list() == ["i0", "i1", "i3", "i4"]
    assert out.interactions.users.tolist() == [0, 0, 1, 2, 2]
    assert out.interactions.items.tolist() == [0, 2, 2, 1, 3]
    assert external_pairs(out) == external_pairs(data)
    assert out.interactions.weights.tolist() == [1, 2, 3, 4, 5]
    assert out.item_features["price"].values.tolist() == [0, 10, 30, 40]
    assert [out.item_features["brand"].values[c - 1] for c in out.item_features["brand"].codes] == ["a", "b", "d", "e"]
    tags = out.item_features["tags"]
    assert [[tags.values[c - 1] for c in tags.of(i)] for i in range(4)] == [["x"], [], ["x", "y"], ["z"]]
    assert out.user_features["age"].values.tolist() == [20, 22, 23]


def test_compact_is_identity_when_nothing_is_empty(block_dataset: Dataset) -> None:
    assert compact(block_dataset) is block_dataset


def test_k_core_needs_several_rounds() -> None:
    # 2-core: item 3 has one event -> remove it; then user 2 has one event -> remove it; then item 2 has
    # one event -> remove it; then user 1 has one event -> remove it. Users 0 and 3 with items 0, 1 remain.
    users = [0, 0, 1, 1, 2, 2, 3, 3]
    items = [0, 1, 1, 2, 2, 3, 0, 1]
    out = k_core(log(users, items), user_k=2, item_k=2)
    assert sorted(external_pairs(out)) == [("u0", "i0"), ("u0", "i1"), ("u3", "i0"), ("u3", "i1")]
    assert out.users.to_list() == ["u0", "u3"]
    assert out.items.to_list() == ["i0", "i1"]


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 6)), max_size=60),
    user_k=st.integers(0, 4),
    item_k=st.integers(0, 4),
)
def test_k_core_matches_naive_reference(pairs: list[tuple[int, int]], user_k: int, item_k: int) -> None:
    data = log([u for u, _ in pairs], [i for _, i in pairs], n_users=8, n_items=7)
    out = k_core(data, user_k=user_k, item_k=item_k)
    expected = [(f"u{u}", f"i{i}") for u, i in naive_k_core(pairs, user_k, item_k)]
    assert external_pairs(out) == expected
    assert (out.user_activity() >= max(user_k, 1)).all()
    assert (out.item_popularity() >= max(item_k, 1)).all()


def test_k_core_rejects_bad_thresholds(block_dataset: Dataset) -> None:
    with pytest.raises(ConfigError, match="user_k"):
        k_core(block_dataset, user_k=-1)
    with pytest.raises(ConfigError, match="item_k"):
        k_core(block_dataset, item_k=2.5)  # type: ignore[arg-type]


DUPES = {
    # rows:        0  1  2  3  4  5
    "users": [0, 0, 1, 0, 1, 0],
    "items": [1, 1, 0, 1, 0, 2],
    "weights": [1, 5, 2, 3, 2, 1],
    "timestamps": [30, 10, 5, 30, 7, 1],
}


@pytest.mark.parametrize(
    ("policy", "rows", "weights"),
    [
        # (u0, i1): rows 0, 1, 3 at t=30, 10, 30 -> latest are rows 0 and 3, the tie goes to the later row 3.
        ("last", [3, 4, 5], [3, 2, 1]),
        ("first", [1, 2, 5], [5, 2, 1]),
        ("max", [1, 4, 5], [5, 2, 1]),  # (u1, i0): equal weights 2 -> the later event (t=7, row 4)
        ("sum", [3, 4, 5], [9, 4, 1]),
    ],
)
def test_deduplicate_policies(policy: str, rows: list[int], weights: list[float]) -> None:
    data = log(**DUPES)
    out, removed = deduplicate(data, policy)  # type: ignore[arg-type]
    assert removed == 3
    assert out.interactions.timestamps.tolist() == [DUPES["timestamps"][r] for r in rows]
    assert out.interactions.users.tolist() == [DUPES["users"][r] for r in rows]
    assert out.interactions.weights.tolist() == weights
    assert out.users is data.users and out.items is data.items


def test_deduplicate_without_timestamps_uses_row_order() -> None:
    data = log([0, 0, 0], [1, 1, 1], weights=[4, 1, 2])
    assert deduplicate(data, "first")[0].interactions.weights.tolist() == [4]
    assert deduplicate(data, "last")[0].interactions.weights.tolist() == [2]


def test_deduplicate_keep_and_no_duplicates_return_input(block_dataset: Dataset) -> None:
    data = log(**DUPES)
    assert deduplicate(data, "keep") == (data, 0)
    assert deduplicate(block_dataset, "last") == (block_dataset, 0)
    with pytest.raises(ConfigError, match="policy"):
        deduplicate(data, "mean")  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 9)), min_size=1, max_size=40))
def test_deduplicate_sum_keeps_total_weight_per_pair(events: list[tuple[int, int, int]]) -> None:
    users, items, weights = (list(c) for c in zip(*events, strict=True))
    out, removed = deduplicate(log(users, items, n_users=4, n_items=4, weights=weights), "sum")
    totals: Counter[tuple[int, int]] = Counter()
    for u, i, w in events:
        totals[(u, i)] += w
    inter = out.interactions
    got = {
        (u, i): w for u, i, w in zip(inter.users.tolist(), inter.items.tolist(), inter.weights.tolist(), strict=True)
    }
    assert got == totals
    assert removed == len(events) - len(totals)


def test_to_implicit_keeps_high_ratings_with_unit_weights() -> None:
    data = log([0, 0, 1, 2], [0, 1, 1, 2], weights=[2, 2, 2, 2], ratings=[5, 3, 4, 3.5])
    out = to_implicit(data, threshold=4.0)
    assert external_pairs(out) == [("u0", "i0"), ("u1", "i1")]
    assert out.interactions.weights.tolist() == [1, 1]
    assert out.interactions.ratings.tolist() == [5, 4]
    assert out.items is data.items
    with pytest.raises(DataError, match="needs explicit ratings"):
        to_implicit(log([0], [0]))


@pytest.mark.realdata
def test_amazon_beauty_is_already_a_5_core(real_data_dir: Path) -> None:
    """S3-Rec's Beauty is 5-core filtered until stable (SOURCE.md): k_core(5, 5) must change nothing."""
    lines = (real_data_dir / "amazon-beauty" / "Beauty.txt").read_text().split("\n")
    rows = [line.split() for line in lines if line]
    users = np.repeat(np.arange(len(rows)), [len(r) - 1 for r in rows])
    items = np.array([int(i) for r in rows for i in r[1:]])
    data = log(users, items - 1)
    out = k_core(data, 5, 5)
    assert (len(out), out.n_users, out.n_items) == (198_502, 22_363, 12_101)
    assert len(k_core(data, 6, 6)) < len(data)
