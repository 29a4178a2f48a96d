"""Matrix factorisation trained by SGD-style mini-batches: the dot-product baseline that, well tuned,
matches or beats neural scorers on implicit feedback (Rendle, Krichene, Zhang & Anderson 2020).

score(u, i) = p_u · q_i (+ b_u + b_i + mean rating when `biases` / explicit), learned with
    bce      logistic loss, positive vs `negatives` sampled items (Rendle et al.'s setting; the default)
    bpr      pairwise ranking loss against sampled items
    softmax  sampled softmax over the positive and its sampled items
    mse      squared error on explicit ratings; `score` then predicts the rating
and lazy row-wise L2 `reg` on the embedding rows of each batch. Serving uses `user_vectors`/`item_vectors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.exceptions import ConfigError
from shoprec.models.base import VectorRecommender
from shoprec.models.registry import register
from shoprec.training import CANDIDATE_LOSSES, OPTIMIZERS, Trainer, TrainerConfig, candidate_task, check_choices

LOSSES = (*CANDIDATE_LOSSES, "mse")


@dataclass
class MFConfig(ModelConfig):
    """Hyperparameters; defaults are a setting validated on ML-1M (see docs/models/mf.md)."""

    embedding_size: int = 64
    epochs: int = 20
    learning_rate: float = 0.005
    reg: float = 0.005
    batch_size: int = 2048
    negatives: int = 8
    loss: str = "bce"
    biases: bool = True
    optimizer: str = "adam"
    init_std: float = 0.1
    sparse: bool = True
    patience: int | None = None

    def validate(self) -> None:
        super().validate()
        check_choices(self, loss=LOSSES, optimizer=OPTIMIZERS)
        if self.loss != "mse" and self.negatives < 1:
            raise ConfigError(f"MFConfig.negatives must be >= 1 for loss {self.loss!r}, got {self.negatives}")
        if self.init_std <= 0:
            raise ConfigError(f"MFConfig.init_std must be > 0, got {self.init_std}")


class MFModule(nn.Module):
    """Candidate scorer: users (b,), items (b, c) -> (scores (b, c), embedding rows used)."""

    def __init__(self, n_users: int, n_items: int, dim: int, *, biases: bool, sparse: bool, init_std: float) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, dim, sparse=sparse)
        self.items = nn.Embedding(n_items, dim, sparse=sparse)
        nn.init.normal_(self.users.weight, std=init_std)
        nn.init.normal_(self.items.weight, std=init_std)
        self.user_bias = nn.Embedding(n_users, 1, sparse=sparse) if biases else None
        self.item_bias = nn.Embedding(n_items, 1, sparse=sparse) if biases else None
        if biases:
            nn.init.zeros_(self.user_bias.weight)  # type: ignore[union-attr]
            nn.init.zeros_(self.item_bias.weight)  # type: ignore[union-attr]

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        p = self.users(users)  # (b, d)
        q = self.items(items)  # (b, c, d)
        scores = (q * p.unsqueeze(1)).sum(2)  # measured ~40% faster than bmm for (b, c, d) x (b, d) on CPU
        if self.user_bias is None or self.item_bias is None:
            return scores, (p, q)
        bu, bi = self.user_bias(users), self.item_bias(items)  # (b, 1), (b, c, 1)
        return scores + bu + bi.squeeze(2), (p, q, bu, bi)


@register("mf")
class MF(VectorRecommender):
    """Matrix factorisation; `user_vectors · item_vectors` is exactly `score` (biases folded in)."""

    config_class = MFConfig
    config: MFConfig

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        cfg = self.config
        if cfg.loss == "mse" and not train.has_ratings:
            raise ConfigError(f"MFConfig.loss='mse' needs explicit ratings, but {train.name!r} has none")
        torch.manual_seed(cfg.seed)
        self.offset_ = float(train.interactions.ratings.mean()) if cfg.loss == "mse" else 0.0  # type: ignore[union-attr]
        self.module_ = self._module()
        task = candidate_task(
            self, self.module_, train, valid, loss=cfg.loss, negatives=cfg.negatives, reg=cfg.reg, offset=self.offset_
        )
        self.history_ = Trainer(TrainerConfig.from_model(cfg), options).fit(task).history
        self.module_.cpu()

    def _module(self) -> MFModule:
        cfg = self.config
        return MFModule(
            self.n_users_,
            self.n_items_,
            cfg.embedding_size,
            biases=cfg.biases,
            sparse=cfg.sparse,
            init_std=cfg.init_std,
        )

    def user_vectors(self, users: np.ndarray | None = None) -> np.ndarray:
        """(b, d [+2]) rows [p_u, b_u, 1] so that the dot product with item_vectors adds the biases."""
        weight = self.module_.users.weight
        index = self._index(users, self.n_users_, weight.device)
        parts = [weight[index]]
        if self.module_.user_bias is not None:
            parts += [self.module_.user_bias.weight[index], torch.ones(len(index), 1, device=weight.device)]
        return _numpy(torch.cat(parts, dim=1))

    def item_vectors(self, items: np.ndarray | None = None) -> np.ndarray:
        """(b, d [+2]) rows [q_i, 1, b_i + offset]."""
        weight = self.module_.items.weight
        index = self._index(items, self.n_items_, weight.device)
        parts = [weight[index]]
        if self.module_.item_bias is not None:
            ones = torch.ones(len(index), 1, device=weight.device)
            parts += [ones, self.module_.item_bias.weight[index] + self.offset_]
        return _numpy(torch.cat(parts, dim=1))

    @staticmethod
    def _index(rows: np.ndarray | None, n: int, device: torch.device) -> torch.Tensor:
        index = torch.arange(n) if rows is None else torch.from_numpy(np.asarray(rows, dtype=np.int64))
        return index.to(device)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.module_.state_dict())

    def _state_json(self) -> dict[str, float]:
        return {"offset": self.offset_}

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        self.offset_ = float(extra.get("offset", 0.0))
        self.module_ = self._module()
        self.module_.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().float().numpy()
