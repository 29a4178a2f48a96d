"""EASE (Steck 2019): a closed-form linear item-item model with a zero diagonal.

B = I − P · diagMat(1 / diag(P)) with P = (XᵀX + λI)⁻¹, i.e. B_ij = −P_ij / P_jj off the diagonal and 0 on it;
a user's scores are their binary history row times B. The items x items inverse is dense, so catalogs above
`max_items` are refused with a ConfigError instead of exhausting memory.

Precision: the Gram matrix is inverted in `dtype` (float64 by default: XᵀX holds counts up to the number of
users and λ is small next to them, so float32 can lose several digits of P); B is stored and scored in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.exceptions import ConfigError
from shoprec.models.base import Recommender
from shoprec.models.registry import register


@dataclass
class EASEConfig(ModelConfig):
    """reg: λ added to the Gram diagonal (~500 on MovieLens scale; smaller for sparse shop data)."""

    reg: float = 500.0
    max_items: int = 50_000
    dtype: str = "float64"

    def validate(self) -> None:
        super().validate()
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"EASEConfig.dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.max_items <= 0:
            raise ConfigError(f"EASEConfig.max_items must be > 0, got {self.max_items}")
        if self.reg <= 0:
            raise ConfigError(f"EASEConfig.reg must be > 0 (XᵀX alone is singular), got {self.reg}")


@register("ease")
class EASE(Recommender):
    """Item-item weights B (n_items, n_items) learned in closed form; score = history @ B."""

    config_class = EASEConfig
    config: EASEConfig

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        cfg = self.config
        dtype = getattr(torch, cfg.dtype)
        if train.n_items > cfg.max_items:
            gib = train.n_items**2 * (2 * dtype.itemsize + 4) / 2**30
            raise ConfigError(
                f"EASEConfig.max_items is {cfg.max_items} but the catalog has {train.n_items} items; EASE needs "
                f"dense items x items matrices (~{gib:.1f} GiB): raise max_items only if that fits in memory"
            )
        gram = torch.from_numpy((self.seen_.T @ self.seen_).toarray()).to(dtype)
        gram.diagonal().add_(cfg.reg)
        factor = torch.linalg.cholesky(gram)
        del gram
        precision = torch.cholesky_inverse(factor)
        del factor
        weights = precision.div_(-precision.diagonal().clone())
        weights.diagonal().zero_()
        # LAPACK leaves the inverse column-major; scipy's sparse @ dense would copy it on every call.
        self.weights_ = weights.float().contiguous()

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.seen_[users] @ self.weights_.numpy())

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {"weights": self.weights_}

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        self.weights_ = torch.from_numpy(tensors["weights"])
