"""Most-popular items: the baseline every personalised model must beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.models.base import Recommender
from shoprec.models.registry import register


@dataclass
class PopularityConfig(ModelConfig):
    """`weighted`: count event weights (e.g. purchases 5, views 1) instead of events."""

    weighted: bool = False


@register("popularity")
class Popularity(Recommender):
    """Scores every item by its (weighted) interaction count in training, for every user alike."""

    config_class = PopularityConfig
    config: PopularityConfig

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        inter = train.interactions
        weights = inter.weights if self.config.weighted else None
        self.scores_ = np.bincount(inter.items, weights=weights, minlength=train.n_items).astype(np.float32)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.scores_).repeat(len(users), 1)  # a copy: recommend masks it in place

    def _state_tensors(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores_}

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        self.scores_ = tensors["scores"]
