"""Batching: bounds by hand, sharding covers every row once, shuffles keep tensors aligned."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.exceptions import ConfigError, DataError
from shoprec.training.batching import batch_bounds, epoch_length, iterate_batches, shuffle


def test_bounds_single_process() -> None:
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]


def test_bounds_two_ranks_split_each_global_batch() -> None:
    assert batch_bounds(10, 4, rank=0, world_size=2) == [(0, 2), (4, 6), (8, 9)]
    assert batch_bounds(10, 4, rank=1, world_size=2) == [(2, 4), (6, 8), (9, 10)]
    # 11 rows over 2 ranks: the odd row is dropped so both ranks take 3 steps.
    assert batch_bounds(11, 4, rank=1, world_size=2)[-1] == (9, 10)
    assert len(batch_bounds(11, 4, rank=0, world_size=2)) == 3


def test_bounds_reject_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        batch_bounds(10, 0)
    with pytest.raises(ConfigError, match="rank"):
        batch_bounds(10, 4, rank=2, world_size=2)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 200), st.integers(1, 50), st.integers(1, 4))
def test_ranks_cover_each_usable_row_exactly_once(n: int, batch_size: int, world: int) -> None:
    per_rank = [batch_bounds(n, batch_size, r, world) for r in range(world)]
    assert len({len(b) for b in per_rank}) == 1  # same number of steps everywhere
    covered = sorted(i for bounds in per_rank for start, stop in bounds for i in range(start, stop))
    assert covered == list(range(n - n % world))
    for step in zip(*per_rank, strict=True):  # shares of one global batch differ by at most one row
        sizes = [stop - start for start, stop in step]
        assert max(sizes) - min(sizes) <= 1


def test_shuffle_is_seeded_and_keeps_rows_aligned() -> None:
    data = {"a": torch.arange(20), "b": torch.arange(20) * 10, "c": torch.arange(40).reshape(20, 2)}
    first = shuffle(data, torch.Generator().manual_seed(3))
    again = shuffle(data, torch.Generator().manual_seed(3))
    assert torch.equal(first["a"], again["a"])
    assert not torch.equal(first["a"], data["a"])
    assert torch.equal(first["b"], first["a"] * 10)
    assert torch.equal(first["c"][:, 0], first["a"] * 2)
    assert sorted(first["a"].tolist()) == list(range(20))


def test_iterate_batches_yields_views_in_order_without_generator() -> None:
    data = {"x": torch.arange(7)}
    batches = [b["x"].tolist() for b in iterate_batches(data, 3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_epoch_length_names_the_misfit() -> None:
    with pytest.raises(DataError, match="'b' has 3 rows, expected 4"):
        epoch_length({"a": torch.zeros(4), "b": torch.zeros(3)})
