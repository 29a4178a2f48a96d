"""Helpers for evaluation tests: a model with hand-set scores and splits built from (user, item) pairs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Interactions, Split
from shoprec.data.vocabulary import Vocabulary
from shoprec.models.base import Recommender


class FixedScores(Recommender):
    """Scores are a given (n_users, n_items) matrix, so every ranking and metric is known exactly."""

    name = "fixed_scores"

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.table = np.asarray(table, dtype=np.float32)

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        self.scores_ = torch.from_numpy(self.table.copy())

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        return self.scores_[torch.from_numpy(users)]  # advanced indexing: a copy


def pairs_dataset(pairs: list[tuple[int, int]], n_users: int, n_items: int, ratings=None) -> Dataset:
    """A data set over `n_users` x `n_items` holding the given (user, item) pairs."""
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return Dataset(
        name="pairs",
        interactions=Interactions.build(arr[:, 0], arr[:, 1], ratings=ratings),
        users=Vocabulary(np.array([f"u{i}" for i in range(n_users)])),
        items=Vocabulary(np.array([f"i{i}" for i in range(n_items)])),
    )


@pytest.fixture
def make_dataset() -> Callable[..., Dataset]:
    """make_dataset(pairs, n_users, n_items, ratings=None) -> Dataset."""
    return pairs_dataset


@pytest.fixture
def make_split() -> Callable[..., Split]:
    def build(n_users: int, n_items: int, train, test, valid=None, **kwargs) -> Split:
        return Split(
            train=pairs_dataset(train, n_users, n_items),
            test=pairs_dataset(test, n_users, n_items),
            valid=None if valid is None else pairs_dataset(valid, n_users, n_items),
            **kwargs,
        )

    return build


#: Hand-set scores: user 0 prefers low item ids; user 1 can never rank item 4 (-inf); user 2 prefers item 1,
#: then 2, 3, ... Training: item 0 for everyone; validation: user 0's item 1; test below.
HAND_TABLE = np.array([[5, 4, 3, 2, 1, 0], [0, 1, 2, 3, -np.inf, 5], [0, 5, 4, 3, 2, 1]], dtype=np.float32)
HAND_TEST = [(0, 2), (0, 5), (1, 4), (1, 5), (2, 3)]


@pytest.fixture
def hand_split(make_split) -> Split:
    return make_split(3, 6, [(0, 0), (1, 0), (2, 0)], HAND_TEST, [(0, 1)])


@pytest.fixture
def hand_model(hand_split) -> FixedScores:
    return FixedScores(HAND_TABLE).fit(hand_split.train)


@pytest.fixture
def fixed_model() -> Callable[[np.ndarray, Dataset], FixedScores]:
    """fixed_model(table, train) -> a fitted FixedScores model."""
    return lambda table, train: FixedScores(table).fit(train)
