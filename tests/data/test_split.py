"""Splits: partitions are exact, ratios and orders hold, seeds reproduce, vocabularies are shared."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.data.dataset import Dataset, Interactions, Split
from shoprec.data.split import (
    SPLITTERS,
    drop_unseen_items,
    leave_one_out,
    per_user_random_split,
    per_user_temporal_ratio,
    random_split,
    split_dataset,
    temporal_split,
    user_holdout,
)
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError, DataError


def events(users: np.ndarray, items: np.ndarray, timestamps: np.ndarray | None = None, n_items: int = 0) -> Dataset:
    """Row r carries weight r, so every event can be traced through a split."""
    n_users = int(np.max(users, initial=-1)) + 1
    n_items = max(n_items, int(np.max(items, initial=-1)) + 1)
    return Dataset(
        name="events",
        interactions=Interactions.build(users, items, np.arange(len(users)), timestamps=timestamps),
        users=Vocabulary(np.arange(n_users)),
        items=Vocabulary(np.arange(n_items)),
    )


@st.composite
def logs(draw: st.DrawFn, distinct_times: bool = False) -> Dataset:
    n = draw(st.integers(0, 80))
    users = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(0, 11), min_size=n, max_size=n))
    times = (
        draw(st.permutations(range(n))) if distinct_times else draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    )
    return events(np.array(users, dtype=np.int64), np.array(items, dtype=np.int64), np.array(times, dtype=np.int64))


def row_ids(part: Dataset | None) -> np.ndarray:
    return np.array([], dtype=np.int64) if part is None else part.interactions.weights.astype(np.int64)


def parts(split: Split) -> list[np.ndarray]:
    return [row_ids(split.train), row_ids(split.valid), row_ids(split.test)]


def assert_partition(split: Split, data: Dataset) -> None:
    """Disjoint, covering, each part in input order, and every part over the input's id spaces."""
    ids = parts(split)
    assert np.array_equal(np.sort(np.concatenate(ids)), np.arange(len(data)))
    assert all((np.diff(p) > 0).all() for p in ids)
    for part in (split.train, split.valid, split.test):
        if part is not None:
            assert part.users is data.users and part.items is data.items
    assert split.protocol == "full"


SEEDED: dict[str, Callable[..., Split]] = {
    "random": random_split,
    "user-random": per_user_random_split,
    "loo-random": lambda d, seed: leave_one_out(d, by="random", seed=seed),
    "user-holdout": user_holdout,
}


@settings(max_examples=40, deadline=None)
@given(data=logs(), seed=st.integers(0, 2**32 - 1))
def test_every_method_partitions_the_events(data: Dataset, seed: int) -> None:
    for method in SPLITTERS:
        split = split_dataset(data, method, seed=seed, drop_unseen=False)
        assert_partition(split, data)
        assert split.method == ("user-random" if method == "ratio-random" else method)


@settings(max_examples=25, deadline=None)
@given(data=logs(), seed=st.integers(0, 1000))
def test_seeds_reproduce(data: Dataset, seed: int) -> None:
    for splitter in SEEDED.values():
        for a, b in zip(parts(splitter(data, seed=seed)), parts(splitter(data, seed=seed)), strict=True):
            assert np.array_equal(a, b)


def test_seeds_change_the_draw() -> None:
    data = events(np.arange(400) % 20, np.arange(400) % 37)
    for name, splitter in SEEDED.items():
        assert not np.array_equal(parts(splitter(data, seed=1))[2], parts(splitter(data, seed=2))[2]), name


@settings(max_examples=40, deadline=None)
@given(data=logs(), test=st.floats(0, 0.45), valid=st.floats(0, 0.45), seed=st.integers(0, 99))
def test_random_split_sizes_round_half_up(data: Dataset, test: float, valid: float, seed: int) -> None:
    split = random_split(data, test=test, valid=valid, seed=seed)
    n = len(data)
    assert len(split.test) == int(test * n + 0.5)
    assert (split.valid is None) == (valid == 0)
    assert len(row_ids(split.valid)) == int(valid * n + 0.5)


# (length, train, valid, test) under 80/10/10, by RecBole's rule worked by hand: floor(0.1 * n) each,
# plus one event for a positive share below one while more than one event stays in train.
RATIO_TABLE = [(1, 1, 0, 0), (2, 1, 0, 1), (3, 1, 1, 1), (9, 7, 1, 1), (10, 8, 1, 1), (15, 13, 1, 1), (20, 16, 2, 2)]


@pytest.mark.parametrize("splitter", [per_user_random_split, per_user_temporal_ratio])
def test_per_user_ratio_counts(splitter: Callable[..., Split]) -> None:
    lengths = np.array([row[0] for row in RATIO_TABLE])
    users = np.repeat(np.arange(len(lengths)), lengths)
    data = events(users, np.arange(len(users)), timestamps=np.arange(len(users))[::-1])
    split = splitter(data, test=0.1, valid=0.1)
    for part, column in ((split.train, 1), (split.valid, 2), (split.test, 3)):
        assert part.user_activity().tolist() == [row[column] for row in RATIO_TABLE]


def test_per_user_temporal_ratio_takes_each_users_latest() -> None:
    # user 0: rows 0-4 at times 50, 10, 40, 20, 30 (ties none); user 1: rows 5-9 all at time 7 -> row order.
    data = events(np.repeat([0, 1], 5), np.arange(10), timestamps=np.array([50, 10, 40, 20, 30, 7, 7, 7, 7, 7]))
    split = per_user_temporal_ratio(data, test=0.2, valid=0.2)
    assert row_ids(split.test).tolist() == [0, 9]
    assert row_ids(split.valid).tolist() == [2, 8]


@settings(max_examples=40, deadline=None)
@given(data=logs(distinct_times=True), test=st.floats(0, 0.45), valid=st.floats(0, 0.45))
def test_temporal_split_is_a_clean_cut(data: Dataset, test: float, valid: float) -> None:
    split = temporal_split(data, test=test, valid=valid)
    n = len(data)
    assert len(split.test) == int(test * n + 0.5)
    assert len(row_ids(split.valid)) == int(valid * n + 0.5)
    times = [p.interactions.timestamps for p in (split.train, split.valid, split.test) if p is not None and len(p)]
    assert all(a.max() < b.min() for a, b in pairwise(times))


def test_temporal_split_keeps_tied_timestamps_together() -> None:
    data = events(np.zeros(5, dtype=np.int64), np.arange(5), timestamps=np.array([1, 2, 3, 3, 3]))
    split = temporal_split(data, test=0.2, valid=0.0)  # the cut falls inside the three events at t=3
    assert row_ids(split.test).tolist() == [2, 3, 4]
    assert split.valid is None


@settings(max_examples=40, deadline=None)
@given(data=logs(), with_valid=st.booleans())
def test_leave_one_out_holds_out_each_users_latest(data: Dataset, with_valid: bool) -> None:
    split = leave_one_out(data, valid=with_valid)
    inter = data.interactions
    minimum = 3 if with_valid else 2
    for user in range(data.n_users):
        rows = np.flatnonzero(inter.users == user)
        by_time = rows[np.lexsort((rows, inter.timestamps[rows]))]  # ties broken by row order
        test_rows = row_ids(split.test)[split.test.interactions.users == user]
        if len(rows) < minimum:
            assert len(test_rows) == 0
            assert np.isin(rows, row_ids(split.train)).all()
            continue
        assert test_rows.tolist() == [by_time[-1]]
        if with_valid:
            assert row_ids(split.valid)[split.valid.interactions.users == user].tolist() == [by_time[-2]]
    assert (split.valid is None) != with_valid


def test_leave_one_out_known_answer() -> None:
    # user 0: 3 events, latest row 1 (t=9), then row 2 and row 0 tied at t=5 -> the later row 2 is second-to-last.
    # user 1: 2 events -> train only (3 needed with a validation set).
    data = events(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 0, 1]), timestamps=np.array([5, 9, 5, 1, 2]))
    split = leave_one_out(data)
    assert [p.tolist() for p in parts(split)] == [[0, 3, 4], [2], [1]]
    no_valid = leave_one_out(data, valid=False)
    assert [p.tolist() for p in parts(no_valid)] == [[0, 2, 3], [], [1, 4]]
    assert row_ids(leave_one_out(data, by="order").test).tolist() == [2]


def test_user_holdout_moves_whole_users() -> None:
    users = np.repeat(np.arange(20), 3)
    data = events(users, np.arange(60) % 7)
    split = user_holdout(data, test_users=0.1, valid_users=0.25, seed=3)
    train_u, valid_u, test_u = (set(p.interactions.users.tolist()) for p in (split.train, split.valid, split.test))
    assert len(test_u) == 2 and len(valid_u) == 5 and len(train_u) == 13
    assert not (train_u & valid_u or train_u & test_u or valid_u & test_u)
    assert len(split.test) == 6  # all three events of each held-out user


def test_unseen_items_are_kept_unless_dropped_with_a_warning() -> None:
    # Item 5 occurs only in user 0's latest event, item 6 only in user 1's latest: both leave test when dropped.
    data = events(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 5, 0, 1, 6]), timestamps=np.arange(6))
    with pytest.warns(UserWarning, match="dropped 2 valid/test events"):
        split = split_dataset(data, "loo", valid=False, drop_unseen=True)
    assert len(split.test) == 0 and len(split.train) == 4 and split.method == "loo+drop_unseen"
    kept = split_dataset(data, "loo", valid=False)  # the default keeps them: evaluation counts them
    assert len(kept.test) == 2 and kept.method == "loo"
    assert len(drop_unseen_items(kept).test) == 0
    assert drop_unseen_items(drop_unseen_items(kept)).method == "loo+drop_unseen"


def _tied_events() -> Dataset:
    """Two users; user 0's last three events share a second, user 1's last two do."""
    users = np.array([0, 0, 0, 0, 1, 1, 1])
    items = np.array([0, 1, 2, 3, 4, 5, 6])
    return events(users, items, timestamps=np.array([1, 5, 5, 5, 1, 7, 7]))


def test_equal_timestamps_follow_row_order_by_default() -> None:
    split = leave_one_out(_tied_events())
    assert sorted(split.test.interactions.items.tolist()) == [3, 6]  # the later row of each tie is "last"
    assert sorted(split.valid.interactions.items.tolist()) == [2, 5]
    again = per_user_temporal_ratio(_tied_events(), test=0.5, valid=0.0)
    assert sorted(again.test.interactions.items.tolist()) == [2, 3, 6]  # floor(0.5 * 4) and floor(0.5 * 3)


def test_shuffled_ties_are_seeded_and_stay_within_ties() -> None:
    data = _tied_events()
    outcomes = set()
    for seed in range(30):
        split = split_dataset(data, "loo", seed=seed, ties="shuffle")
        again = split_dataset(data, "loo", seed=seed, ties="shuffle")
        test = tuple(sorted(split.test.interactions.items.tolist()))
        assert test == tuple(sorted(again.test.interactions.items.tolist()))  # the seed decides
        assert {0, 4} <= set(split.train.interactions.items.tolist())  # untied earlier events stay first
        assert set(test) <= {1, 2, 3, 5, 6}
        outcomes.add(test)
    assert len(outcomes) > 1  # the tie really is broken differently by different seeds
    with pytest.raises(ConfigError, match="ties must be one of"):
        leave_one_out(data, ties="random")


def test_sequences_order_ties_by_rows_or_a_seeded_shuffle() -> None:
    from shoprec.models.sequences import Sequences

    data = _tied_events()
    assert Sequences.from_dataset(data).items.tolist() == [0, 1, 2, 3, 4, 5, 6]
    shuffled = [Sequences.from_dataset(data, ties="shuffle", seed=s).items.tolist() for s in range(20)]
    assert all(seq[0] == 0 and sorted(seq[1:4]) == [1, 2, 3] and seq[4] == 4 for seq in shuffled)
    assert len({tuple(seq) for seq in shuffled}) > 1
    assert shuffled[3] == Sequences.from_dataset(data, ties="shuffle", seed=3).items.tolist()
    given = Sequences.from_dataset(data, order="given", ties="shuffle", seed=1).items.tolist()
    assert given == [0, 1, 2, 3, 4, 5, 6]  # ties only reorder events of equal time


def test_split_dataset_errors_name_the_problem(block_dataset: Dataset) -> None:
    with pytest.raises(ConfigError, match=r"'loo-random'.*'user-holdout'"):
        split_dataset(block_dataset, "leave-one-out")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['ratio'\]"):
        split_dataset(block_dataset, "random", ratio=0.2)
    with pytest.raises(ConfigError, match="test"):
        random_split(block_dataset, test=1.2)
    with pytest.raises(ConfigError, match="test \\+ valid"):
        per_user_random_split(block_dataset, test=0.5, valid=0.5)
    with pytest.raises(ConfigError, match="by"):
        leave_one_out(block_dataset, by="clock")  # type: ignore[arg-type]
    untimed = events(np.array([0, 0, 0]), np.array([0, 1, 2]))
    for method in ("temporal", "loo", "user-temporal"):
        with pytest.raises(DataError, match=r"no timestamps.*'loo-random'"):
            split_dataset(untimed, method)
    assert len(split_dataset(untimed, "loo-order", drop_unseen=False).test) == 1


@pytest.mark.realdata
def test_amazon_grocery_leave_one_out(real_data_dir: Path) -> None:
    """ReChorus' Grocery train file: 121,892 events of 14,681 users, each with >= 3 (SOURCE.md)."""
    frame = pl.read_csv(real_data_dir / "amazon-grocery" / "train.csv", separator="\t")
    users, items = (frame[c].to_numpy() - 1 for c in ("user_id", "item_id"))
    data = events(users, items, timestamps=frame["time"].to_numpy())
    split = leave_one_out(data)
    assert (len(split.train), len(split.valid), len(split.test)) == (121_892 - 2 * 14_681, 14_681, 14_681)
    latest = frame.group_by("user_id").agg(pl.col("time").max()).sort("user_id")["time"].to_numpy()
    test = split.test.interactions
    assert np.array_equal(test.timestamps[np.argsort(test.users)], latest)


@pytest.mark.realdata
def test_ml1m_user_random_split(real_data_dir: Path) -> None:
    """Every ML-1M user has >= 20 ratings, so each gives exactly floor(0.1 n) to valid and to test."""
    frame = pl.read_csv(real_data_dir / "ml-1m" / "ratings-no-timestamps.csv")
    users = np.unique(frame["user_id"].to_numpy(), return_inverse=True)[1]
    items = np.unique(frame["movie_id"].to_numpy(), return_inverse=True)[1]
    data = events(users, items)
    split = per_user_random_split(data, seed=7)
    expected = (frame.group_by("user_id").len()["len"].to_numpy() // 10).sum()
    assert len(split.test) == len(split.valid) == expected
    assert len(split.train) == 1_000_209 - 2 * expected
    assert_partition(split, data)
