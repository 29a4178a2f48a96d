"""Shared fixtures: a seeded rng, tiny synthetic data sets with known structure, real-data location."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.vocabulary import Vocabulary


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def make_block_dataset(
    n_users: int = 40, n_items: int = 30, n_blocks: int = 2, density: float = 0.7, seed: int = 0
) -> Dataset:
    """Users and items fall into blocks; users interact only inside their block (with timestamps).

    A good model ranks the unseen items of a user's own block above every other item.
    """
    rng = np.random.default_rng(seed)
    user_block = np.arange(n_users) % n_blocks
    item_block = np.arange(n_items) % n_blocks
    mask = (user_block[:, None] == item_block[None, :]) & (rng.random((n_users, n_items)) < density)
    users, items = np.nonzero(mask)
    timestamps = rng.integers(1_600_000_000, 1_700_000_000, size=len(users))
    inter = Interactions.build(users, items, timestamps=timestamps, ratings=rng.integers(1, 6, len(users)))
    return Dataset(
        name="blocks",
        interactions=inter,
        users=Vocabulary(np.array([f"u{i}" for i in range(n_users)])),
        items=Vocabulary(np.array([f"i{i}" for i in range(n_items)])),
    )


@pytest.fixture
def block_dataset() -> Dataset:
    return make_block_dataset()


def data_dir() -> Path | None:
    value = os.environ.get("SHOPREC_DATA_DIR")
    return Path(value) if value and Path(value).is_dir() else None


@pytest.fixture
def real_data_dir() -> Path:
    """The folder of public data sets; tests that need it skip with the reason when it is absent."""
    path = data_dir()
    if path is None:
        pytest.skip("real data sets not available: set SHOPREC_DATA_DIR to a folder like ../shared/data")
    return path
