"""Item-based k-nearest neighbours: cosine similarity between items' user sets, top-`neighbors` kept sparse.

sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i|·|U_j|) + shrinkage); shrinkage damps similarities built on few users.
Column i of the sparse similarity S keeps item i's `neighbors` most similar items, and a user's scores are
their binary history row times S. S is built a block of columns at a time, so memory stays bounded by
SIMILARITY_BUDGET floats plus the kept neighbours, whatever the catalog size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.exceptions import ConfigError
from shoprec.models.base import Recommender
from shoprec.models.registry import register

#: Dense similarity floats computed at once (n_items x block of columns).
SIMILARITY_BUDGET = 1 << 24


@dataclass
class ItemKNNConfig(ModelConfig):
    """neighbors: similar items kept per item; shrinkage: added to the cosine denominator (0 = plain cosine)."""

    neighbors: int = 100
    shrinkage: float = 0.0

    def validate(self) -> None:
        super().validate()
        if self.shrinkage < 0:
            raise ConfigError(f"ItemKNNConfig.shrinkage must be >= 0, got {self.shrinkage}")


def cosine_top_k(matrix: sp.csr_matrix, k: int, shrinkage: float = 0.0) -> sp.csr_matrix:
    """(n_items, n_items) sparse S whose column i holds the k largest positive similarities of item i to others.

    matrix: (n_users, n_items) binary interactions.
    """
    n_items = matrix.shape[1]
    by_item = matrix.T.tocsr()
    columns = matrix.tocsc()
    norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0)).ravel())
    k = min(k, n_items)
    block = max(1, SIMILARITY_BUDGET // max(n_items, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        own = np.arange(start, stop)
        dots = (by_item @ columns[:, start:stop]).toarray()  # (n_items, b)
        denominator = norms[:, None] * norms[None, start:stop] + shrinkage
        sim = np.divide(dots, denominator, out=np.zeros_like(dots), where=denominator > 0)
        sim[own, own - start] = 0.0
        top = np.argpartition(-sim, k - 1, axis=0)[:k] if k < n_items else np.indices(sim.shape)[0]
        top_sim = np.take_along_axis(sim, top, axis=0)
        keep = top_sim > 0
        rows.append(top[keep])
        cols.append(np.broadcast_to(own, top.shape)[keep])
        vals.append(top_sim[keep])
    data = (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols)))
    return sp.csr_matrix(data, shape=(n_items, n_items))


@register("item_knn")
class ItemKNN(Recommender):
    """Scores an item by the summed similarity of the user's history items that count it as a neighbour."""

    config_class = ItemKNNConfig
    config: ItemKNNConfig

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        self.similarity_ = cosine_top_k(self.seen_, self.config.neighbors, self.config.shrinkage)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((self.seen_[users] @ self.similarity_).toarray())

    def _state_tensors(self) -> dict[str, np.ndarray]:
        sim = self.similarity_
        return {"indptr": sim.indptr.astype(np.int64), "indices": sim.indices.astype(np.int64), "data": sim.data}

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        shape = (self.n_items_, self.n_items_)
        self.similarity_ = sp.csr_matrix((tensors["data"], tensors["indices"], tensors["indptr"]), shape=shape)
