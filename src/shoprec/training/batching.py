"""Mini-batches from pre-built epoch tensors: one shuffle per epoch, then views, never per-sample Python.

An epoch is a dict of tensors sharing their first dimension (one row per training example, e.g.
`users` (n,), `items` (n, 1+k)). Shuffling gathers every tensor once with a seeded permutation; batches
are then contiguous slices (views), so the hot loop does no indexing work of its own. Under data parallel
training each global batch is cut into `world_size` nearly equal parts and rank r trains on part r, so
the ranks together see exactly the batches a single process would.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from shoprec.exceptions import ConfigError, DataError

Batch = dict[str, torch.Tensor]


def epoch_length(tensors: Batch) -> int:
    """Number of rows shared by all epoch tensors; DataError naming the first tensor that disagrees."""
    if not tensors:
        raise DataError("an epoch needs at least one tensor")
    lengths = {name: len(t) for name, t in tensors.items()}
    n = next(iter(lengths.values()))
    for name, length in lengths.items():
        if length != n:
            raise DataError(f"epoch tensor {name!r} has {length} rows, expected {n} like the others")
    return n


def shuffle(tensors: Batch, generator: torch.Generator) -> Batch:
    """The same random permutation of rows applied to every tensor (one gather each)."""
    perm = torch.randperm(epoch_length(tensors), generator=generator)
    return {name: t[perm.to(t.device)] for name, t in tensors.items()}


def batch_bounds(n: int, batch_size: int, rank: int = 0, world_size: int = 1) -> list[tuple[int, int]]:
    """[start, stop) row ranges of this rank's share of each global batch of `batch_size` rows.

    Rows beyond a multiple of `world_size` are dropped so that every rank takes the same number of
    steps (data parallel training deadlocks otherwise); shares differ by at most one row.
    """
    if batch_size <= 0:
        raise ConfigError(f"batch_size must be > 0, got {batch_size}")
    if not 0 <= rank < world_size:
        raise ConfigError(f"rank must be in 0..{world_size - 1}, got {rank}")
    usable = n - n % world_size
    bounds = []
    for start in range(0, usable, batch_size):
        size = min(batch_size, usable - start)
        cut = [start + size * r // world_size for r in range(world_size + 1)]
        bounds.append((cut[rank], cut[rank + 1]))
    return bounds


def iterate_batches(
    tensors: Batch,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[Batch]:
    """Yield this rank's batches of an epoch, shuffled first when a generator is given."""
    data = shuffle(tensors, generator) if generator is not None else tensors
    for start, stop in batch_bounds(epoch_length(data), batch_size, rank, world_size):
        yield {name: t[start:stop] for name, t in data.items()}
