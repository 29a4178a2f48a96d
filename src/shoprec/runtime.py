"""Runtime settings that are not hyperparameters: thread limits for torch and BLAS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


@contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Limit torch and BLAS/OpenMP threads inside the block (None: leave as they are)."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)
